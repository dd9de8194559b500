package extension

import "errors"

// Errors of the extension manager. Handlers map them to HTTP statuses.
var (
	// ErrNotFound means no extension of that name is installed.
	ErrNotFound = errors.New("extension not found")
	// ErrExists means an extension of that name is installed already.
	ErrExists = errors.New("extension already installed")
	// ErrInvalid wraps a problem with what was given to install.
	ErrInvalid = errors.New("invalid extension")
	// ErrChecksum means the binary changed since it was installed.
	ErrChecksum = errors.New("extension binary changed since install (sha256 mismatch)")
	// ErrUnavailable means the extension's process is not running.
	ErrUnavailable = errors.New("extension unavailable")
	// ErrDisabled means extensions are turned off in the configuration.
	ErrDisabled = errors.New("extensions are disabled in the configuration")
)
