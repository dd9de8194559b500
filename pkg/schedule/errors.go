package schedule

import "errors"

// ErrInvalid marks every problem with a schedule specification. Errors
// returned by Parse wrap it in a *SpecError that names the offending key.
var ErrInvalid = errors.New("invalid schedule")

// SpecError is an invalid schedule specification: Field is the key of the
// schedule object at fault ("cron", "timezone", …) and Reason says why, in
// words meant for the person who wrote it.
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string { return e.Reason }

// Unwrap makes every SpecError match ErrInvalid.
func (e *SpecError) Unwrap() error { return ErrInvalid }

func invalid(field, reason string) error { return &SpecError{Field: field, Reason: reason} }
