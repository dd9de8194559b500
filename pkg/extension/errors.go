package extension

import (
	"errors"
	"fmt"
)

// Errors of the extension manager. Handlers map them to HTTP statuses.
var (
	// ErrNotFound means no extension of that name is installed.
	ErrNotFound = errors.New("extension not found")
	// ErrExists means an extension of that name is installed already; the
	// error returned is an *ExistsError naming it.
	ErrExists = errors.New("extension already installed")
	// ErrInvalid wraps a problem with what was given to install.
	ErrInvalid = errors.New("invalid extension")
	// ErrChecksum means the binary changed since it was installed.
	ErrChecksum = errors.New("extension binary changed since install (sha256 mismatch)")
	// ErrUnavailable means the extension's process is not running.
	ErrUnavailable = errors.New("extension unavailable")
	// ErrDisabled means extensions are turned off in the configuration.
	ErrDisabled = errors.New("extensions are disabled in the configuration")
	// ErrTimeout means a running extension did not answer a route call in
	// time.
	ErrTimeout = errors.New("extension did not answer in time")
	// ErrTooLarge means an extension's answer exceeded the message limit.
	ErrTooLarge = errors.New("extension answer too large")
	// ErrRouteFailed means a running extension answered a route call with
	// an error instead of a response. Its text is for the log only.
	ErrRouteFailed = errors.New("extension failed to handle the request")
	// ErrBadPath means a route path holds dot-segments or encoded
	// slashes, which could reach a route other than the one authorised.
	ErrBadPath = errors.New("invalid extension route path")
)

// ExistsError is ErrExists for one extension name.
type ExistsError struct{ Name string }

func (e *ExistsError) Error() string { return fmt.Sprintf("extension %s already installed", e.Name) }

// Is makes errors.Is(err, ErrExists) hold.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }
