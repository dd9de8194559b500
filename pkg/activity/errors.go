package activity

import "errors"

var (
	// ErrClosed means an entry was appended after Close.
	ErrClosed = errors.New("activity log closed")
	// ErrQueueFull means the write queue holds MaxPending entries: the
	// database is not keeping up, and the entry was not accepted.
	ErrQueueFull = errors.New("activity queue full")
	// ErrInvalidEntry means an entry has no kind or a kind that is not
	// lower-case letters, digits, '.', '_' and '-'.
	ErrInvalidEntry = errors.New("invalid activity entry")
	// ErrInvalidCursor means a list cursor was not one List returned.
	ErrInvalidCursor = errors.New("invalid cursor")
)
