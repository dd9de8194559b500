package users

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/store"
)

func newService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewService(db, auth.NewHasher(bcrypt.MinCost, 2))
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ann@example.com", "ann@example.com", true},
		{"  Ann.Lee+tag@Example.COM \n", "ann.lee+tag@example.com", true},
		{"a@b.co", "a@b.co", true},
		{"", "", false},
		{"   ", "", false},
		{"ann", "", false},
		{"@example.com", "", false},
		{"ann@", "", false},
		{"ann@localhost", "", false},
		{"ann@@example.com", "", false},
		{"ann@x@example.com", "", false},
		{"ann lee@example.com", "", false},
		{"ann@exa mple.com", "", false},
		{"ann\t@example.com", "", false},
		{"ann\x00@example.com", "", false},
		{"ann@example..com", "", false},
		{"ann@.example.com", "", false},
		{"ann@example.com.", "", false},
		{strings.Repeat("a", 250) + "@x.io", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tt.in, got, err)
		}
	}
}

func TestCreate(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	u, err := s.Create(ctx, " Ann@Example.com", "password1", false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ann@example.com" || u.IsAdmin || len(u.ID) != 36 || u.CreatedAt == "" || u.CreatedAt != u.UpdatedAt {
		t.Errorf("created %+v", u)
	}
	if _, err := time.Parse(time.RFC3339Nano, u.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", u.CreatedAt, err)
	}
	got, err := s.Get(ctx, u.ID)
	if err != nil || got != u {
		t.Errorf("Get = %+v, %v; want %+v", got, err, u)
	}

	tests := []struct {
		name, email, password string
		err                   error
	}{
		{"duplicate", "ann@example.com", "password2", ErrEmailTaken},
		{"duplicate other case", "ANN@EXAMPLE.COM", "password2", ErrEmailTaken},
		{"invalid email", "ann.example.com", "password1", ErrInvalidEmail},
		{"short password", "bob@example.com", "short", ErrPasswordTooShort},
		{"seven runes", "bob@example.com", "ééééééé", ErrPasswordTooShort},
		{"long password", "bob@example.com", strings.Repeat("p", 73), ErrPasswordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Create(ctx, tt.email, tt.password, false); !errors.Is(err, tt.err) {
				t.Errorf("Create error = %v, want %v", err, tt.err)
			}
		})
	}
	if _, err := s.Create(ctx, "eve@example.com", "éééééééé", true); err != nil {
		t.Errorf("Create with 8 two-byte runes: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
}

func TestCreateConcurrentDuplicate(t *testing.T) {
	s := newService(t)
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Create(context.Background(), "race@example.com", "password1", false)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrEmailTaken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d registrations succeeded, want exactly 1", ok)
	}
	if c, err := s.Count(context.Background()); err != nil || c != 1 {
		t.Errorf("Count = %d, %v; want 1", c, err)
	}
}

func TestAuthenticate(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	u, err := s.Create(ctx, "ann@example.com", "password1", true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, password string
		err                   error
	}{
		{"right", "ann@example.com", "password1", nil},
		{"other case and spaces", "  ANN@Example.Com ", "password1", nil},
		{"wrong password", "ann@example.com", "password2", ErrInvalidCredentials},
		{"password case", "ann@example.com", "PASSWORD1", ErrInvalidCredentials},
		{"unknown email", "bob@example.com", "password1", ErrInvalidCredentials},
		{"too long", "ann@example.com", "password1" + strings.Repeat("x", 70), ErrInvalidCredentials},
		{"empty password", "ann@example.com", "", ErrInvalidCredentials},
		{"malformed email", "ann", "password1", ErrInvalidEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Authenticate(ctx, tt.email, tt.password)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Authenticate error = %v, want %v", err, tt.err)
			}
			if err == nil && got != u {
				t.Errorf("Authenticate = %+v, want %+v", got, u)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	u, err := s.Create(ctx, "ann@example.com", "password1", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByEmail(ctx, "Ann@Example.com"); err != nil || got != u {
		t.Errorf("ByEmail = %+v, %v; want %+v", got, err, u)
	}
	if _, err := s.ByEmail(ctx, "bob@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByEmail unknown: error = %v, want ErrNotFound", err)
	}
	if _, err := s.ByEmail(ctx, "bob"); !errors.Is(err, ErrInvalidEmail) {
		t.Errorf("ByEmail malformed: error = %v, want ErrInvalidEmail", err)
	}
	if _, err := s.Get(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get unknown: error = %v, want ErrNotFound", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	s := newService(t)
	ctx := context.Background()

	admin, created, err := s.EnsureAdmin(ctx, "Root@Example.com", "password1")
	if err != nil || !created || !admin.IsAdmin || admin.Email != "root@example.com" {
		t.Fatalf("EnsureAdmin new = %+v, %v, %v", admin, created, err)
	}
	if _, err := s.Authenticate(ctx, "root@example.com", "password1"); err != nil {
		t.Errorf("new admin cannot log in: %v", err)
	}

	plain, err := s.Create(ctx, "ann@example.com", "password1", false)
	if err != nil {
		t.Fatal(err)
	}
	got, created, err := s.EnsureAdmin(ctx, "ANN@example.com", "new-password")
	if err != nil || created {
		t.Fatalf("EnsureAdmin existing = %+v, %v, %v", got, created, err)
	}
	if got.ID != plain.ID || !got.IsAdmin || got.CreatedAt != plain.CreatedAt || got.UpdatedAt < plain.UpdatedAt {
		t.Errorf("EnsureAdmin existing = %+v, was %+v", got, plain)
	}
	if _, err := s.Authenticate(ctx, "ann@example.com", "password1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password after EnsureAdmin: error = %v, want ErrInvalidCredentials", err)
	}
	if u, err := s.Authenticate(ctx, "ann@example.com", "new-password"); err != nil || !u.IsAdmin {
		t.Errorf("new password after EnsureAdmin = %+v, %v", u, err)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if _, _, err := s.EnsureAdmin(ctx, "root@example.com", "short"); !errors.Is(err, ErrPasswordTooShort) {
		t.Errorf("EnsureAdmin short password: error = %v, want ErrPasswordTooShort", err)
	}
}
