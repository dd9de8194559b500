package apptokens

import "errors"

var (
	// ErrInvalid means a presented token is unknown, inactive or expired.
	ErrInvalid = errors.New("invalid application token")

	// ErrNotFound means no token has the given id.
	ErrNotFound = errors.New("application token not found")
)

// InputError is a bad field in a create or update request.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + " " + e.Message }
