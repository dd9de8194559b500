package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// Session is one login: the family of refresh tokens that started with it.
type Session struct {
	ID, UserID string
	// RefreshID is the jti of the one refresh token that may still be used.
	RefreshID string
	Expires   time.Time
}

// StartSession records a new login session whose current refresh token
// has the jti refreshID. A user deleted in the meantime is ErrNotFound.
func (s *Service) StartSession(ctx context.Context, sess Session) error {
	now := store.Now()
	_, err := s.db.W.ExecContext(ctx,
		`INSERT INTO auth_sessions (id, user_id, refresh_jti, created_at, refreshed_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.UserID, sess.RefreshID, now, now, store.FormatTime(sess.Expires))
	if store.ForeignKeyViolation(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	return nil
}

// RotateSession replaces the session's current refresh token usedID by
// next. Refresh tokens are single use: when usedID is not the current one
// (it was used before, so it or its successor is in someone else's hands),
// the whole session is revoked and ErrRefreshReused returned. An unknown,
// expired or revoked session is ErrSessionRevoked.
func (s *Service) RotateSession(ctx context.Context, usedID string, next Session) error {
	now := s.now()
	var revoked bool
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var current, userID string
		var revokedAt sql.NullString
		var expires string
		err := tx.QueryRowContext(ctx,
			`SELECT user_id, refresh_jti, revoked_at, expires_at FROM auth_sessions WHERE id = ?`, next.ID).
			Scan(&userID, &current, &revokedAt, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrSessionRevoked
		case err != nil:
			return fmt.Errorf("read session: %w", err)
		}
		if userID != next.UserID || revokedAt.Valid || !parseTime(expires).After(now) {
			return ErrSessionRevoked
		}
		if current != usedID {
			if _, err := tx.ExecContext(ctx,
				`UPDATE auth_sessions SET revoked_at = ?, revoked_why = 'refresh token reused' WHERE id = ?`,
				store.FormatTime(now), next.ID); err != nil {
				return fmt.Errorf("revoke session: %w", err)
			}
			revoked = true
			return nil
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE auth_sessions SET refresh_jti = ?, refreshed_at = ?, expires_at = ? WHERE id = ?`,
			next.RefreshID, store.FormatTime(now), store.FormatTime(next.Expires), next.ID)
		if err != nil {
			return fmt.Errorf("rotate session: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if revoked {
		if s.rev != nil {
			s.rev.RevokeSession(next.ID, now.Add(s.lifetime))
		}
		return ErrRefreshReused
	}
	return nil
}

// Logout revokes every session of the user and every token issued to it so
// far (access, refresh and function call tokens, on every device), and
// returns how many live sessions it ended.
func (s *Service) Logout(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.revokeUser(ctx, userID, "logout", func(tx *sql.Tx) error {
		var err error
		n, err = s.endSessions(ctx, tx, userID, "logout")
		return err
	})
	return n, err
}

// revokeUser runs fn and then writes the user's token cutoff in one
// transaction, and after the commit records the cutoff in memory. Every
// token of the user issued up to now is refused from then on.
func (s *Service) revokeUser(ctx context.Context, userID, why string, fn func(tx *sql.Tx) error) error {
	var at time.Time
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		at = s.now()
		return s.writeCutoff(ctx, tx, userID, at, why)
	})
	if err != nil {
		return err
	}
	s.recordCutoff(userID, at)
	return nil
}

func (s *Service) writeCutoff(ctx context.Context, tx *sql.Tx, userID string, at time.Time, why string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO token_cutoffs (user_id, not_after_us, forget_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET not_after_us = MAX(not_after_us, excluded.not_after_us),
			forget_at = MAX(forget_at, excluded.forget_at)`,
		userID, at.UnixMicro(), store.FormatTime(at.Add(s.lifetime)))
	if err != nil {
		return fmt.Errorf("revoke tokens (%s): %w", why, err)
	}
	return nil
}

func (s *Service) recordCutoff(userID string, at time.Time) {
	if s.rev != nil {
		s.rev.RevokeUser(userID, at, at.Add(s.lifetime))
	}
}

// endSessions marks the user's live sessions revoked and returns how many.
func (s *Service) endSessions(ctx context.Context, tx *sql.Tx, userID, why string) (int, error) {
	now := store.Now()
	res, err := tx.ExecContext(ctx,
		`UPDATE auth_sessions SET revoked_at = ?, revoked_why = ?
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`, now, why, userID, now)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Prune deletes rows that can no longer refuse or admit any token:
// sessions and cutoffs past their retention and spent reset tokens. It
// returns how many rows it deleted.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	old := store.FormatTime(now.Add(-s.lifetime))
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM auth_sessions WHERE expires_at < ? AND (revoked_at IS NULL OR revoked_at < ?)`,
			[]any{store.FormatTime(now), old}},
		{`DELETE FROM token_cutoffs WHERE forget_at < ?`, []any{store.FormatTime(now)}},
		{`DELETE FROM password_resets WHERE expires_at < ?`, []any{store.FormatTime(now.Add(-24 * time.Hour))}},
	} {
		res, err := s.db.W.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if s.rev != nil {
		s.rev.Prune()
	}
	return total, nil
}
