package store

import (
	"errors"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// UniqueViolation reports whether err is a UNIQUE constraint failure and,
// when SQLite names it, which index failed (expression indexes are named
// as "index 'name'"; column constraints as "table.column").
func UniqueViolation(err error) (index string, ok bool) {
	var se *sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode() != sqlite3.CONSTRAINT_UNIQUE {
		return "", false
	}
	msg := se.Error()
	if _, rest, found := strings.Cut(msg, "index '"); found {
		if name, _, found := strings.Cut(rest, "'"); found {
			return name, true
		}
	}
	if _, rest, found := strings.Cut(msg, "UNIQUE constraint failed: "); found {
		return strings.TrimSpace(rest), true
	}
	return "", true
}

// ForeignKeyViolation reports whether err is a FOREIGN KEY constraint failure.
func ForeignKeyViolation(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode() == sqlite3.CONSTRAINT_FOREIGNKEY
}

// Busy reports whether err is SQLITE_BUSY ("database is locked").
func Busy(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && se.Code() == sqlite3.BUSY
}
