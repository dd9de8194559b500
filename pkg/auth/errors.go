package auth

import "errors"

var (
	// ErrPasswordTooLong means a password is longer than the 72 bytes bcrypt
	// reads; bcrypt would silently ignore the rest, so it is refused instead.
	ErrPasswordTooLong = errors.New("password longer than 72 bytes")

	// ErrInvalidToken means a token is malformed, not signed by our secret,
	// signed with another algorithm, or lacks a required claim.
	ErrInvalidToken = errors.New("invalid token")

	// ErrExpired means a token was valid but its exp lies further in the past
	// than the issuer's leeway.
	ErrExpired = errors.New("token expired")

	// ErrWrongTokenType means a valid token was presented where another type
	// is expected, such as a refresh token used as an access token.
	ErrWrongTokenType = errors.New("wrong token type")

	// ErrWeakSecret means the signing secret is shorter than MinSecretLen.
	ErrWeakSecret = errors.New("token secret too short")
)

// ErrRevoked means a token was valid but has been withdrawn: its user
// logged out, changed or reset the password, or was deleted, or its
// session was revoked.
var ErrRevoked = errors.New("token revoked")
