package python

import "errors"

// ErrInvalidName means a function name cannot be used for a new function
// file.
var ErrInvalidName = errors.New("invalid function name")
