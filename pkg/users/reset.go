package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/store"
)

// DefaultResetTTL is how long a password reset link works when the caller
// gives no lifetime.
const DefaultResetTTL = time.Hour

// VerifyPassword checks the password of the account id, for changes to
// one's own account that must be confirmed with the current password. A
// mismatch is ErrWrongPassword.
func (s *Service) VerifyPassword(ctx context.Context, id, password string) error {
	if len(password) > auth.MaxPasswordLen {
		_ = s.h.DummyVerify(ctx)
		return ErrWrongPassword
	}
	var hash string
	err := s.db.R.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("look up user: %w", err)
	}
	ok, err := s.h.Verify(ctx, hash, password)
	if err != nil {
		return err
	}
	if !ok {
		return ErrWrongPassword
	}
	return nil
}

// RequestReset makes a password reset token for the account with email
// and returns it with the account. The token is 32 random bytes in hex;
// only its SHA-256 is stored, and any earlier unused token of the user
// stops working. An unknown email is ErrNotFound: the caller must answer
// the same either way.
func (s *Service) RequestReset(ctx context.Context, email string, ttl time.Duration) (string, User, error) {
	if ttl <= 0 {
		ttl = DefaultResetTTL
	}
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return "", User{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", User{}, fmt.Errorf("make reset token: %w", err)
	}
	token := hex.EncodeToString(raw)
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM password_resets WHERE user_id = ? AND used_at IS NULL`, u.ID); err != nil {
			return fmt.Errorf("drop older reset tokens: %w", err)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hashResetToken(token), u.ID, store.FormatTime(now), store.FormatTime(now.Add(ttl)))
		if store.ForeignKeyViolation(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store reset token: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", User{}, err
	}
	return token, u, nil
}

// ConfirmReset sets the password of the account the reset token belongs
// to, spends the token, ends every session and revokes every token the
// user holds. The new password follows the rules of Create; a token that
// is unknown, expired or used is ErrInvalidResetToken.
func (s *Service) ConfirmReset(ctx context.Context, token, password string) (User, error) {
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	if len(token) != 64 {
		return User{}, ErrInvalidResetToken
	}
	hash, err := s.h.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	var u User
	var cut time.Time
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var userID, expires string
		var used sql.NullString
		err := tx.QueryRowContext(ctx,
			`SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = ?`,
			hashResetToken(token)).Scan(&userID, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInvalidResetToken
		}
		if err != nil {
			return fmt.Errorf("look up reset token: %w", err)
		}
		now := s.now()
		if used.Valid || !parseTime(expires).After(now) {
			return ErrInvalidResetToken
		}
		u, err = scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? RETURNING `+userColumns,
			hash, store.FormatTime(now), userID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInvalidResetToken
		}
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`,
			store.FormatTime(now), userID); err != nil {
			return fmt.Errorf("spend reset tokens: %w", err)
		}
		if _, err := s.endSessions(ctx, tx, userID, "password reset"); err != nil {
			return err
		}
		cut = s.now()
		return s.writeCutoff(ctx, tx, userID, cut, "password reset")
	})
	if err != nil {
		return User{}, err
	}
	s.recordCutoff(u.ID, cut)
	s.cache.put(u)
	return u, nil
}

func hashResetToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
