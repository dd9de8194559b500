package settings

import "fmt"

// ValidationError is a setting value refused by Update. Nothing was saved.
type ValidationError struct {
	// Key is the name as given in the request.
	Key string
	Err error
	// More holds the other values of the same request that were refused,
	// so a client can show every problem at once.
	More []*ValidationError
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %v", e.Key, e.Err) }

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(key string, err error) *ValidationError { return &ValidationError{Key: key, Err: err} }
