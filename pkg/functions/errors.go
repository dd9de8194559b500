package functions

import "errors"

var (

	// ErrInvalidName means a function name does not match ^[a-z][a-z0-9_]*$
	// or is longer than MaxNameLen.
	ErrInvalidName = errors.New("invalid function name")

	// ErrAuthRequired means the function needs a signed-in caller.
	ErrAuthRequired = errors.New("authentication required")

	// ErrAdminRequired means the function needs an admin caller.
	ErrAdminRequired = errors.New("admin access required")
)
