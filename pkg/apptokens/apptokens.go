// Package apptokens stores application tokens: long-lived secrets an admin
// creates for servers, which present them as `Authorization: Bearer`.
//
// The secret is shown once, at creation; only its SHA-256 is stored (the
// secret has 256 random bits, so a fast hash is enough). Checking a token
// reads an in-memory index that the Service keeps in step with its own
// committed writes, and last use is recorded in memory and written to the
// database in batches by Flush, so authenticating a request costs neither
// a read nor a write.
package apptokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

// Prefix starts every application token, so the api can tell one from a
// JWT (which starts with "eyJ") without trying to parse it.
const Prefix = "tb_"

// Scopes an application token can carry. They nest: write includes read
// and admin includes write.
const (
	// ScopeRead allows safe requests (GET, HEAD, OPTIONS) with user rights.
	ScopeRead = "read"
	// ScopeWrite allows every method with user rights.
	ScopeWrite = "write"
	// ScopeAdmin allows every method with admin rights, while the token's
	// owner is an admin.
	ScopeAdmin = "admin"
)

// DefaultScopes are given to a token created without scopes.
var DefaultScopes = []string{ScopeWrite}

// Limits on the fields of a token.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 500
	MaxExpiresDays    = 3650
)

// Token is an application token as admins see it; never the secret.
type Token struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Scopes      []string `json:"scopes"`
	UserID      string   `json:"user_id"`
	// TokenPrefix is the start of the secret, to recognise a token.
	TokenPrefix string  `json:"token_prefix"`
	IsActive    bool    `json:"is_active"`
	IsValid     bool    `json:"is_valid"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	ExpiresAt   *string `json:"expires_at"`
	LastUsedAt  *string `json:"last_used_at"`
}

// Principal is who a valid token acts as.
type Principal struct {
	TokenID string
	// UserID is the admin who created the token; the token acts for them.
	UserID string
	Scopes []string
}

// Has reports whether the principal's scopes include scope, counting the
// nesting of read in write in admin.
func (p Principal) Has(scope string) bool { return hasScope(p.Scopes, scope) }

func hasScope(scopes []string, scope string) bool {
	rank := map[string]int{ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}
	want := rank[scope]
	for _, s := range scopes {
		if want > 0 && rank[s] >= want {
			return true
		}
	}
	return false
}

// entry is the in-memory form of one token.
type entry struct {
	id, userID string
	scopes     []string
	active     bool
	expires    time.Time // zero: never
	lastUsed   atomic.Int64
	flushed    atomic.Int64
}

// Service stores application tokens.
type Service struct {
	db  *store.DB
	now func() time.Time

	mu     sync.RWMutex
	byHash map[string]*entry
	byID   map[string]string // id -> hash
}

// NewService returns a Service over db. Call Load before Authenticate.
func NewService(db *store.DB) *Service {
	return &Service{db: db, now: time.Now, byHash: map[string]*entry{}, byID: map[string]string{}}
}

const columns = `id, name, description, scopes, user_id, token_prefix, is_active, created_at, updated_at,
	expires_at, last_used_at, token_hash`

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Token, string, error) {
	var t Token
	var scopes, hash string
	err := r.Scan(&t.ID, &t.Name, &t.Description, &scopes, &t.UserID, &t.TokenPrefix, &t.IsActive,
		&t.CreatedAt, &t.UpdatedAt, &t.ExpiresAt, &t.LastUsedAt, &hash)
	if err != nil {
		return t, "", err
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil || t.Scopes == nil {
		t.Scopes = []string{}
	}
	return t, hash, nil
}

// Load reads every token into memory.
func (s *Service) Load(ctx context.Context) error {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+columns+` FROM application_tokens`)
	if err != nil {
		return fmt.Errorf("load application tokens: %w", err)
	}
	defer rows.Close()
	byHash, byID := map[string]*entry{}, map[string]string{}
	for rows.Next() {
		t, hash, err := scan(rows)
		if err != nil {
			return fmt.Errorf("load application tokens: %w", err)
		}
		byHash[hash] = entryOf(t)
		byID[t.ID] = hash
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load application tokens: %w", err)
	}
	s.mu.Lock()
	s.byHash, s.byID = byHash, byID
	s.mu.Unlock()
	return nil
}

func entryOf(t Token) *entry {
	e := &entry{id: t.ID, userID: t.UserID, scopes: t.Scopes, active: t.IsActive}
	if t.ExpiresAt != nil {
		if at, err := time.Parse(time.RFC3339Nano, *t.ExpiresAt); err == nil {
			e.expires = at
		}
	}
	if t.LastUsedAt != nil {
		if at, err := time.Parse(time.RFC3339Nano, *t.LastUsedAt); err == nil {
			e.lastUsed.Store(at.UnixMicro())
			e.flushed.Store(at.UnixMicro())
		}
	}
	return e
}

func (e *entry) valid(now time.Time) bool {
	return e.active && (e.expires.IsZero() || now.Before(e.expires))
}

// Authenticate returns the principal of a presented token and records its
// use. An unknown, inactive or expired token is ErrInvalid. It reads only
// memory.
func (s *Service) Authenticate(raw string) (Principal, error) {
	if !strings.HasPrefix(raw, Prefix) {
		return Principal{}, ErrInvalid
	}
	h := hashToken(raw)
	s.mu.RLock()
	e := s.byHash[h]
	s.mu.RUnlock()
	now := s.now()
	if e == nil || !e.valid(now) {
		return Principal{}, ErrInvalid
	}
	e.lastUsed.Store(now.UnixMicro())
	return Principal{TokenID: e.id, UserID: e.userID, Scopes: e.scopes}, nil
}

// CreateInput describes a new token.
type CreateInput struct {
	Name        string
	Description *string
	Scopes      []string
	// ExpiresDays, when set, makes the token expire that many days from now.
	ExpiresDays *int
	// UserID is the admin creating the token, whom it acts for.
	UserID string
}

// Create stores a new token and returns it with its secret, which is not
// kept and cannot be shown again.
func (s *Service) Create(ctx context.Context, in CreateInput) (Token, string, error) {
	if err := checkName(in.Name); err != nil {
		return Token{}, "", err
	}
	if err := checkDescription(in.Description); err != nil {
		return Token{}, "", err
	}
	scopes, err := normaliseScopes(in.Scopes)
	if err != nil {
		return Token{}, "", err
	}
	now := s.now()
	t := Token{ID: uuid.NewString(), Name: strings.TrimSpace(in.Name), Description: in.Description,
		Scopes: scopes, UserID: in.UserID, IsActive: true, CreatedAt: store.FormatTime(now)}
	t.UpdatedAt = t.CreatedAt
	if in.ExpiresDays != nil {
		if *in.ExpiresDays < 1 || *in.ExpiresDays > MaxExpiresDays {
			return Token{}, "", &InputError{Field: "expires_days",
				Message: fmt.Sprintf("must be between 1 and %d", MaxExpiresDays)}
		}
		at := store.FormatTime(now.Add(time.Duration(*in.ExpiresDays) * 24 * time.Hour))
		t.ExpiresAt = &at
	}
	raw, err := newSecret()
	if err != nil {
		return Token{}, "", err
	}
	t.TokenPrefix = raw[:len(Prefix)+6]
	hash := hashToken(raw)
	sc, _ := json.Marshal(t.Scopes)
	_, err = s.db.W.ExecContext(ctx, `INSERT INTO application_tokens (id, name, description, token_hash,
		token_prefix, scopes, user_id, is_active, created_at, updated_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
		t.ID, t.Name, t.Description, hash, t.TokenPrefix, string(sc), t.UserID, t.CreatedAt, t.UpdatedAt, t.ExpiresAt)
	if err != nil {
		return Token{}, "", fmt.Errorf("insert application token: %w", err)
	}
	s.mu.Lock()
	s.byHash[hash] = entryOf(t)
	s.byID[t.ID] = hash
	s.mu.Unlock()
	t.IsValid = true
	return t, raw, nil
}

// List returns every token, newest first, with last use as recorded in
// memory (it reaches the database at the next Flush).
func (s *Service) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+columns+` FROM application_tokens ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list application tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, hash, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list application tokens: %w", err)
		}
		out = append(out, s.withMemory(t, hash))
	}
	return out, rows.Err()
}

// Get returns the token id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Token, error) {
	t, hash, err := scan(s.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM application_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("get application token: %w", err)
	}
	return s.withMemory(t, hash), nil
}

func (s *Service) withMemory(t Token, hash string) Token {
	s.mu.RLock()
	e := s.byHash[hash]
	s.mu.RUnlock()
	if e != nil {
		if us := e.lastUsed.Load(); us != 0 {
			at := store.FormatTime(time.UnixMicro(us))
			t.LastUsedAt = &at
		}
	}
	t.IsValid = entryOf(t).valid(s.now())
	return t
}

// Patch changes a token; nil fields stay as they are.
type Patch struct {
	Name        *string
	Description *string
	IsActive    *bool
	Scopes      *[]string
}

// Update applies p to token id. Setting is_active to false revokes the
// token at once; setting it back to true restores it.
func (s *Service) Update(ctx context.Context, id string, p Patch) (Token, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if p.Name != nil {
		if err := checkName(*p.Name); err != nil {
			return Token{}, err
		}
		t.Name = strings.TrimSpace(*p.Name)
	}
	if p.Description != nil {
		if err := checkDescription(p.Description); err != nil {
			return Token{}, err
		}
		t.Description = p.Description
	}
	if p.Scopes != nil {
		sc, err := normaliseScopes(*p.Scopes)
		if err != nil {
			return Token{}, err
		}
		t.Scopes = sc
	}
	if p.IsActive != nil {
		t.IsActive = *p.IsActive
	}
	t.UpdatedAt = store.Now()
	sc, _ := json.Marshal(t.Scopes)
	res, err := s.db.W.ExecContext(ctx,
		`UPDATE application_tokens SET name = ?, description = ?, scopes = ?, is_active = ?, updated_at = ?
			WHERE id = ?`,
		t.Name, t.Description, string(sc), t.IsActive, t.UpdatedAt, id)
	if err != nil {
		return Token{}, fmt.Errorf("update application token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Token{}, ErrNotFound
	}
	s.mu.Lock()
	if hash, ok := s.byID[id]; ok {
		old := s.byHash[hash]
		e := entryOf(t)
		if old != nil {
			e.lastUsed.Store(old.lastUsed.Load())
			e.flushed.Store(old.flushed.Load())
		}
		s.byHash[hash] = e
	}
	s.mu.Unlock()
	t.IsValid = entryOf(t).valid(s.now())
	return t, nil
}

// Delete removes token id; it stops working at once.
func (s *Service) Delete(ctx context.Context, id string) error {
	res, err := s.db.W.ExecContext(ctx, `DELETE FROM application_tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete application token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	s.forget(func(e *entry) bool { return e.id == id })
	return nil
}

// ForgetUser drops from memory the tokens of a deleted user (the database
// deletes their rows by cascade).
func (s *Service) ForgetUser(userID string) {
	s.forget(func(e *entry) bool { return e.userID == userID })
}

func (s *Service) forget(match func(*entry) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hash, e := range s.byHash {
		if match(e) {
			delete(s.byHash, hash)
			delete(s.byID, e.id)
		}
	}
}

// Flush writes last-use times recorded in memory since the previous Flush.
func (s *Service) Flush(ctx context.Context) error {
	type use struct {
		e  *entry
		at int64
	}
	var dirty []use
	s.mu.RLock()
	for _, e := range s.byHash {
		if at := e.lastUsed.Load(); at > e.flushed.Load() {
			dirty = append(dirty, use{e, at})
		}
	}
	s.mu.RUnlock()
	if len(dirty) == 0 {
		return nil
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, u := range dirty {
			if _, err := tx.ExecContext(ctx, `UPDATE application_tokens SET last_used_at = ? WHERE id = ?`,
				store.FormatTime(time.UnixMicro(u.at)), u.e.id); err != nil {
				return fmt.Errorf("record token use: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range dirty {
		u.e.flushed.Store(u.at)
	}
	return nil
}

func checkName(name string) error {
	n := strings.TrimSpace(name)
	if n == "" {
		return &InputError{Field: "name", Message: "is required"}
	}
	if utf8.RuneCountInString(n) > MaxNameLen {
		return &InputError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", MaxNameLen)}
	}
	return nil
}

func checkDescription(d *string) error {
	if d != nil && utf8.RuneCountInString(*d) > MaxDescriptionLen {
		return &InputError{Field: "description",
			Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)}
	}
	return nil
}

func normaliseScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return slices.Clone(DefaultScopes), nil
	}
	out := []string{}
	for _, s := range in {
		switch s {
		case ScopeRead, ScopeWrite, ScopeAdmin:
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		default:
			return nil, &InputError{Field: "scopes",
				Message: fmt.Sprintf("unknown scope %q (use read, write or admin)", s)}
		}
	}
	return out, nil
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make application token: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}
