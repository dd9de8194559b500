package users

import (
	"context"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// IsAdmin reports whether the user is an admin now, from memory. The api
// authorises with it rather than with a token's is_admin claim, so a
// promotion or demotion takes effect on the next request.
func (s *Service) IsAdmin(id string) bool {
	s.adminsMu.RLock()
	defer s.adminsMu.RUnlock()
	_, ok := s.admins[id]
	return ok
}

func (s *Service) setAdmin(id string, admin bool) {
	s.adminsMu.Lock()
	defer s.adminsMu.Unlock()
	if admin {
		s.admins[id] = struct{}{}
	} else {
		delete(s.admins, id)
	}
}

// Load fills the in-memory views from the database: the admins, and, with
// WithRevocations, every cutoff and revoked session that can still refuse
// an unexpired token. The api calls it once before serving.
func (s *Service) Load(ctx context.Context) error {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM users WHERE is_admin = 1`)
	if err != nil {
		return fmt.Errorf("load admins: %w", err)
	}
	admins := map[string]struct{}{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("load admins: %w", err)
		}
		admins[id] = struct{}{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load admins: %w", err)
	}
	s.adminsMu.Lock()
	s.admins = admins
	s.adminsMu.Unlock()
	if s.rev == nil {
		return nil
	}
	return s.loadRevocations(ctx)
}

func (s *Service) loadRevocations(ctx context.Context) error {
	now := s.now()
	rows, err := s.db.R.QueryContext(ctx,
		`SELECT user_id, not_after_us, forget_at FROM token_cutoffs WHERE forget_at > ?`, store.FormatTime(now))
	if err != nil {
		return fmt.Errorf("load token cutoffs: %w", err)
	}
	for rows.Next() {
		var id, forget string
		var at int64
		if err := rows.Scan(&id, &at, &forget); err != nil {
			rows.Close()
			return fmt.Errorf("load token cutoffs: %w", err)
		}
		s.rev.RevokeUser(id, time.UnixMicro(at), parseTime(forget))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load token cutoffs: %w", err)
	}
	rows, err = s.db.R.QueryContext(ctx,
		`SELECT id, revoked_at FROM auth_sessions WHERE revoked_at IS NOT NULL AND revoked_at > ?`,
		store.FormatTime(now.Add(-s.lifetime)))
	if err != nil {
		return fmt.Errorf("load revoked sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, revoked string
		if err := rows.Scan(&id, &revoked); err != nil {
			return fmt.Errorf("load revoked sessions: %w", err)
		}
		s.rev.RevokeSession(id, parseTime(revoked).Add(s.lifetime))
	}
	return rows.Err()
}

// parseTime reads a stored timestamp; a malformed one reads as the far
// future, so an entry that decides a revocation is kept rather than lost.
func parseTime(v string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Now().Add(100 * 365 * 24 * time.Hour)
	}
	return t
}
