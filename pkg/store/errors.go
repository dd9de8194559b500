package store

import "errors"

// ErrSchemaTooNew means the database was migrated by a newer TinyBase.
var ErrSchemaTooNew = errors.New("database schema too new")
