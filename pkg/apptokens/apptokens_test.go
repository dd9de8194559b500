package apptokens

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

func newService(t *testing.T) (*Service, *store.DB, string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := store.Now()
	if _, err := db.W.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, is_admin, created_at, updated_at)
		VALUES ('admin-1', 'root@example.com', 'x', 1, ?, ?)`, now, now); err != nil {
		t.Fatal(err)
	}
	s := NewService(db)
	if err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return s, db, "admin-1"
}

func TestLifecycle(t *testing.T) {
	s, db, owner := newService(t)
	ctx := context.Background()
	days := 30
	tok, raw, err := s.Create(ctx, CreateInput{Name: " deploy bot ", Scopes: []string{"read", "read"},
		ExpiresDays: &days, UserID: owner})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, Prefix) || len(raw) < 40 || !strings.HasPrefix(raw, tok.TokenPrefix) ||
		tok.Name != "deploy bot" || len(tok.Scopes) != 1 || tok.ExpiresAt == nil || !tok.IsValid {
		t.Fatalf("created %+v with %q", tok, raw)
	}
	var stored string
	if err := db.R.QueryRow(`SELECT token_hash FROM application_tokens`).Scan(&stored); err != nil ||
		strings.Contains(stored, raw[len(Prefix):]) {
		t.Fatalf("stored %q, %v: the secret must not be stored", stored, err)
	}
	p, err := s.Authenticate(raw)
	if err != nil || p.UserID != owner || p.TokenID != tok.ID || !p.Has(ScopeRead) || p.Has(ScopeWrite) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "tb_", raw + "x", "eyJhbGciOi", strings.ToUpper(raw)} {
		if _, err := s.Authenticate(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Authenticate(%q) error = %v", bad, err)
		}
	}

	// Last use reaches the database on Flush, and survives a reload.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := NewService(db)
	if err := s2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx, tok.ID); err != nil || got.LastUsedAt == nil {
		t.Fatalf("after flush and reload: %+v, %v", got, err)
	}
	if _, err := s2.Authenticate(raw); err != nil {
		t.Fatalf("after reload: %v", err)
	}

	off := false
	if got, err := s.Update(ctx, tok.ID, Patch{IsActive: &off}); err != nil || got.IsActive || got.IsValid {
		t.Fatalf("deactivate = %+v, %v", got, err)
	}
	if _, err := s.Authenticate(raw); !errors.Is(err, ErrInvalid) {
		t.Errorf("inactive token: error = %v", err)
	}
	on, admin := true, []string{"admin"}
	if got, err := s.Update(ctx, tok.ID, Patch{IsActive: &on, Scopes: &admin}); err != nil || !got.IsValid {
		t.Fatalf("reactivate = %+v, %v", got, err)
	}
	if p, err := s.Authenticate(raw); err != nil || !p.Has(ScopeWrite) || !p.Has(ScopeAdmin) {
		t.Errorf("reactivated admin token = %+v, %v", p, err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.Delete(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(raw); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleted token: error = %v", err)
	}
	if err := s.Delete(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: error = %v", err)
	}
}

func TestExpiryAndValidation(t *testing.T) {
	s, _, owner := newService(t)
	ctx := context.Background()
	day := 1
	_, raw, err := s.Create(ctx, CreateInput{Name: "short", ExpiresDays: &day, UserID: owner})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if _, err := s.Authenticate(raw); !errors.Is(err, ErrInvalid) {
		t.Errorf("expired token: error = %v", err)
	}
	zero, long := 0, MaxExpiresDays+1
	desc := strings.Repeat("d", MaxDescriptionLen+1)
	for name, in := range map[string]CreateInput{
		"no name":      {Name: "  ", UserID: owner},
		"long name":    {Name: strings.Repeat("n", MaxNameLen+1), UserID: owner},
		"long desc":    {Name: "x", Description: &desc, UserID: owner},
		"bad scope":    {Name: "x", Scopes: []string{"root"}, UserID: owner},
		"zero days":    {Name: "x", ExpiresDays: &zero, UserID: owner},
		"too many day": {Name: "x", ExpiresDays: &long, UserID: owner},
	} {
		var ie *InputError
		if _, _, err := s.Create(ctx, in); !errors.As(err, &ie) {
			t.Errorf("%s: error = %v, want InputError", name, err)
		}
	}
}

func TestForgetUser(t *testing.T) {
	s, _, owner := newService(t)
	_, raw, err := s.Create(context.Background(), CreateInput{Name: "x", UserID: owner})
	if err != nil {
		t.Fatal(err)
	}
	s.ForgetUser(owner)
	if _, err := s.Authenticate(raw); !errors.Is(err, ErrInvalid) {
		t.Errorf("token of forgotten user: error = %v", err)
	}
}
