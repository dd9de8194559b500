package store

import "errors"

var (
	// ErrSchemaTooNew means the database was migrated by a newer TinyBase.
	ErrSchemaTooNew = errors.New("database schema too new")
	// ErrClosed means a write was submitted to a closed database.
	ErrClosed = errors.New("database closed")
)
