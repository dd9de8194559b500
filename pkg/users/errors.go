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

var (
	// ErrLastAdmin means a change would leave the instance without an admin.
	ErrLastAdmin = errors.New("last admin")

	// ErrUserInUse means the database refused to delete a user that other
	// rows still reference without an ON DELETE rule.
	ErrUserInUse = errors.New("user is still referenced")

	// ErrWrongPassword means the current password given to confirm a change
	// of one's own account does not match.
	ErrWrongPassword = errors.New("current password is wrong")

	// ErrSessionRevoked means a refresh token's session is unknown, expired
	// or revoked.
	ErrSessionRevoked = errors.New("session revoked")

	// ErrRefreshReused means a refresh token was presented a second time;
	// its whole session is revoked.
	ErrRefreshReused = errors.New("refresh token reused")

	// ErrInvalidResetToken means a password reset token is unknown, expired,
	// already used, or its user is gone.
	ErrInvalidResetToken = errors.New("invalid or expired reset token")
)
