// Package users stores TinyBase accounts: emails, password hashes, the
// admin flag, login sessions, token cutoffs and password resets. It never
// returns a password hash to its callers.
//
// The api is the only process that writes accounts, so the Service keeps
// two in-memory views in step with its own committed writes: the set of
// admins (so authorisation uses the current role without a database read)
// and, when configured, the auth.Revocations that token verification
// consults.
package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/store"
)

// MinPasswordLen is the fewest characters (not bytes) a new password may
// have. The most is auth.MaxPasswordLen bytes.
const MinPasswordLen = 8

// User is an account as the API shows it.
type User struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	IsAdmin   bool   `json:"is_admin"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// Service reads and writes accounts.
type Service struct {
	db *store.DB
	h  *auth.Hasher

	// rev receives every revocation committed here; nil records none in
	// memory (the database rows are still written).
	rev *auth.Revocations
	// lifetime is the longest a token can live: a revocation entry is
	// kept this long after it is made.
	lifetime time.Duration
	now      func() time.Time

	adminsMu sync.RWMutex
	admins   map[string]struct{}

	cache *cache
}

// Option tunes a Service.
type Option func(*Service)

// WithRevocations makes the Service record every logout, password change
// or reset, user deletion and revoked session in rev, keeping each entry
// for lifetime: the longest any token lives, plus the verifier's leeway.
func WithRevocations(rev *auth.Revocations, lifetime time.Duration) Option {
	return func(s *Service) {
		s.rev = rev
		s.lifetime = lifetime
	}
}

// DefaultTokenLifetime is the revocation retention used without
// WithRevocations: the default refresh token lifetime plus a day.
const DefaultTokenLifetime = auth.DefaultRefreshTTL + 24*time.Hour

// NewService returns a Service over db that hashes passwords with h.
func NewService(db *store.DB, h *auth.Hasher, opts ...Option) *Service {
	s := &Service{db: db, h: h, lifetime: DefaultTokenLifetime, now: time.Now, admins: map[string]struct{}{},
		cache: newCache(DefaultCacheSize)}
	for _, o := range opts {
		o(s)
	}
	return s
}

const userColumns = `id, email, is_admin, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner, extra ...any) (User, error) {
	var u User
	err := r.Scan(append([]any{&u.ID, &u.Email, &u.IsAdmin, &u.CreatedAt, &u.UpdatedAt}, extra...)...)
	return u, err
}

// checkPassword applies the length rules for a new password.
func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("%w: need at least %d characters", ErrPasswordTooShort, MinPasswordLen)
	}
	if len(password) > auth.MaxPasswordLen {
		return ErrPasswordTooLong
	}
	return nil
}

// Create adds an account. The email is normalised (see NormalizeEmail) and
// the password must be MinPasswordLen characters to auth.MaxPasswordLen
// bytes. A taken email is ErrEmailTaken; the check is the database's unique
// index, so of several concurrent registrations of one email exactly one
// succeeds.
func (s *Service) Create(ctx context.Context, email, password string, isAdmin bool) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.h.Hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := store.Now()
	u := User{ID: uuid.NewString(), Email: e, IsAdmin: isAdmin, CreatedAt: now, UpdatedAt: now}
	_, err = s.db.W.ExecContext(ctx,
		`INSERT INTO users (id, email, password_hash, is_admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, hash, u.IsAdmin, u.CreatedAt, u.UpdatedAt)
	if isUnique(err) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	s.setAdmin(u.ID, u.IsAdmin)
	s.cache.put(u)
	return u, nil
}

// Authenticate returns the account with email and password. An unknown email
// and a wrong password both give ErrInvalidCredentials after the same bcrypt
// work, so neither the answer nor its timing reveals which emails exist. A
// malformed email is ErrInvalidEmail, since its syntax is no secret.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if len(password) > auth.MaxPasswordLen {
		// No stored hash can match; spend the time a real check would.
		return User{}, s.fail(ctx)
	}
	var hash string
	u, err := scanUser(s.db.R.QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`, e), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, s.fail(ctx)
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	ok, err := s.h.Verify(ctx, hash, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// fail spends a dummy password check and returns ErrInvalidCredentials.
func (s *Service) fail(ctx context.Context) error {
	if err := s.h.DummyVerify(ctx); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// Get returns the account with id, or ErrNotFound. Recently read accounts
// come from memory; see cache.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	if u, ok := s.cache.get(id); ok {
		return u, nil
	}
	seen := s.cache.writes.Load()
	u, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	s.cache.fill(u, seen)
	return u, nil
}

// ByEmail returns the account with email (in any case and with surrounding
// spaces), ErrNotFound, or ErrInvalidEmail when email is malformed.
func (s *Service) ByEmail(ctx context.Context, email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, e))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user by email: %w", err)
	}
	return u, nil
}

// Count returns the number of accounts.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// EnsureAdmin makes the account with email an admin whose password is
// password, creating it if needed, and reports whether it was created. It is
// what `tinybase init` runs, so running init again resets the admin's
// password instead of failing. The password rules of Create apply.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (User, bool, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, false, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, false, err
	}
	hash, err := s.h.Hash(ctx, password)
	if err != nil {
		return User{}, false, err
	}
	id, now := uuid.NewString(), store.Now()
	// One upsert rather than look-up-then-write, so a concurrent
	// registration of the same email cannot slip in between.
	u, err := scanUser(s.db.W.QueryRowContext(ctx,
		`INSERT INTO users (id, email, password_hash, is_admin, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)
		ON CONFLICT (email) DO UPDATE SET
			password_hash = excluded.password_hash, is_admin = 1, updated_at = excluded.updated_at
		RETURNING `+userColumns,
		id, e, hash, now, now))
	if err != nil {
		return User{}, false, fmt.Errorf("upsert admin: %w", err)
	}
	s.setAdmin(u.ID, true)
	s.cache.put(u)
	return u, u.ID == id, nil
}

// isUnique reports whether err is SQLite refusing a duplicate in a UNIQUE
// column.
func isUnique(err error) bool {
	_, ok := store.UniqueViolation(err)
	return ok
}
