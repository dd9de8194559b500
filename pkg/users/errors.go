package users

import (
	"errors"

	"github.com/tinybase/tinybase/pkg/auth"
)

var (
	// ErrInvalidEmail means an address failed the basic syntax check.
	ErrInvalidEmail = errors.New("invalid email address")

	// ErrPasswordTooShort means a new password has fewer than MinPasswordLen
	// characters.
	ErrPasswordTooShort = errors.New("password too short")

	// ErrPasswordTooLong is auth.ErrPasswordTooLong, repeated here so callers
	// of this package can match every password rule in one place.
	ErrPasswordTooLong = auth.ErrPasswordTooLong

	// ErrEmailTaken means another account already uses the email.
	ErrEmailTaken = errors.New("email already registered")

	// ErrInvalidCredentials means the email is unknown or the password is
	// wrong; callers must not be able to tell which.
	ErrInvalidCredentials = errors.New("invalid email or password")

	// ErrNotFound means no user has the given id or email.
	ErrNotFound = errors.New("user not found")
)
