package auth

import (
	"sync"
	"time"
)

// Revocations is the in-memory view of withdrawn tokens that Verify
// consults, so that checking a token never reads the database.
//
// It holds two kinds of entries:
//
//   - a per-user cutoff: every token of the user issued at or before the
//     cutoff is refused (logout, password change or reset, deletion);
//   - revoked sessions: every token carrying the session id is refused
//     (a replayed refresh token withdraws its whole family).
//
// The api owns the database and is the only role that verifies tokens, so
// the code path that commits a revocation also records it here, and the
// view is rebuilt from the database at start. An entry is needed only
// while a token it refuses could still be unexpired, so entries carry a
// forget time and Prune drops them after it; memory stays proportional to
// recent logouts, not to the number of users.
//
// A Revocations is safe for concurrent use; the zero value is not usable,
// use NewRevocations.
type Revocations struct {
	mu       sync.RWMutex
	cutoffs  map[string]entry
	sessions map[string]time.Time
	now      func() time.Time
}

type entry struct {
	at, forget time.Time
}

// NewRevocations returns an empty view.
func NewRevocations() *Revocations {
	return &Revocations{cutoffs: map[string]entry{}, sessions: map[string]time.Time{}, now: time.Now}
}

// RevokeUser refuses every token of userID issued at or before at. The
// entry is kept until forget, which must lie past the expiry of any token
// issued before at. An earlier cutoff never replaces a later one.
func (r *Revocations) RevokeUser(userID string, at, forget time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cutoffs[userID]; ok && old.at.After(at) {
		return
	}
	r.cutoffs[userID] = entry{at: at, forget: forget}
}

// RevokeSession refuses every token carrying sessionID until forget.
func (r *Revocations) RevokeSession(sessionID string, forget time.Time) {
	if sessionID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.sessions[sessionID]; ok && old.After(forget) {
		return
	}
	r.sessions[sessionID] = forget
}

// SessionRevoked reports whether sessionID was revoked.
func (r *Revocations) SessionRevoked(sessionID string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.sessions[sessionID]
	return ok
}

// Check returns ErrRevoked when c belongs to a revoked session or was
// issued at or before its user's cutoff. Tokens without a subject
// (anonymous and scheduled call tokens) have no user to revoke.
func (r *Revocations) Check(c *Claims) error {
	if c.Subject == "" && c.SessionID == "" {
		return nil
	}
	issued := c.issuedAt()
	r.mu.RLock()
	cut, cutOK := r.cutoffs[c.Subject]
	_, sessionRevoked := r.sessions[c.SessionID]
	r.mu.RUnlock()
	if c.SessionID != "" && sessionRevoked {
		return ErrRevoked
	}
	if c.Subject != "" && cutOK && !issued.After(cut.at) {
		return ErrRevoked
	}
	return nil
}

// Prune forgets entries whose forget time has passed and returns how many
// it dropped.
func (r *Revocations) Prune() int {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, e := range r.cutoffs {
		if now.After(e.forget) {
			delete(r.cutoffs, id)
			n++
		}
	}
	for id, forget := range r.sessions {
		if now.After(forget) {
			delete(r.sessions, id)
			n++
		}
	}
	return n
}

// Len returns the number of entries held.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.cutoffs) + len(r.sessions)
}

// issuedAt returns the precise issue time when the token carries one, and
// the whole-second iat otherwise.
func (c *Claims) issuedAt() time.Time {
	if c.IssuedAtMicros != 0 {
		return time.UnixMicro(c.IssuedAtMicros)
	}
	if c.IssuedAt != nil {
		return c.IssuedAt.Time
	}
	return time.Time{}
}
