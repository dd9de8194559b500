package users

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/store"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	db  *store.DB
	s   *Service
	rev *auth.Revocations
	iss *auth.Issuer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rev := auth.NewRevocations()
	f := &fixture{db: db, rev: rev,
		s:   NewService(db, auth.NewHasher(bcrypt.MinCost, 2), WithRevocations(rev, 31*24*time.Hour)),
		iss: auth.NewIssuer(testSecret, auth.IssuerOptions{Revocations: rev})}
	if err := f.s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

// login starts a session for u the way the api does.
func (f *fixture) login(t *testing.T, u User, sid string) auth.Pair {
	t.Helper()
	p, err := f.iss.IssuePair(u.ID, u.IsAdmin, sid)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.StartSession(context.Background(), Session{ID: sid, UserID: u.ID, RefreshID: p.RefreshID,
		Expires: p.RefreshExpires}); err != nil {
		t.Fatal(err)
	}
	return p
}

// refresh rotates the session of the refresh token the way the api does.
func (f *fixture) refresh(refresh string) (auth.Pair, error) {
	c, err := f.iss.Verify(refresh, auth.Refresh)
	if err != nil {
		return auth.Pair{}, err
	}
	p, err := f.iss.IssuePair(c.Subject, false, c.SessionID)
	if err != nil {
		return auth.Pair{}, err
	}
	err = f.s.RotateSession(context.Background(), c.ID, Session{ID: c.SessionID, UserID: c.Subject,
		RefreshID: p.RefreshID, Expires: p.RefreshExpires})
	return p, err
}

func (f *fixture) user(t *testing.T, email string, admin bool) User {
	t.Helper()
	u, err := f.s.Create(context.Background(), email, "password1", admin)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t)
	ann := f.user(t, "ann@example.com", false)
	p1 := f.login(t, ann, "s1")
	other := f.login(t, ann, "s2")

	p2, err := f.refresh(p1.Refresh)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	// The used refresh token is presented again: the session is revoked,
	// its newest tokens with it; the other device keeps working.
	if _, err := f.refresh(p1.Refresh); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("replayed refresh: error = %v, want ErrRefreshReused", err)
	}
	for name, tok := range map[string]string{"new access": p2.Access, "new refresh": p2.Refresh, "old access": p1.Access} {
		if _, err := f.iss.Verify(tok, auth.Access, auth.Refresh); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s after replay: error = %v, want ErrRevoked", name, err)
		}
	}
	if _, err := f.refresh(p2.Refresh); err == nil {
		t.Error("refresh of the revoked session succeeded")
	}
	if _, err := f.iss.Verify(other.Access); err != nil {
		t.Errorf("other session after replay: %v", err)
	}

	// The revocation survives a restart: a fresh view loaded from the
	// database refuses the same tokens.
	f2 := &fixture{db: f.db, rev: auth.NewRevocations()}
	f2.s = NewService(f.db, auth.NewHasher(bcrypt.MinCost, 1), WithRevocations(f2.rev, 31*24*time.Hour))
	f2.iss = auth.NewIssuer(testSecret, auth.IssuerOptions{Revocations: f2.rev})
	if err := f2.s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.iss.Verify(p2.Access); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("after reload: error = %v, want ErrRevoked", err)
	}
}

func TestRefreshConcurrentReplay(t *testing.T) {
	f := newFixture(t)
	ann := f.user(t, "ann@example.com", false)
	p := f.login(t, ann, "s1")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.refresh(p.Refresh) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok > 1 {
		t.Errorf("%d concurrent uses of one refresh token succeeded, want at most 1", ok)
	}
}

func TestLogoutRevokesEverything(t *testing.T) {
	f := newFixture(t)
	ann := f.user(t, "ann@example.com", false)
	bob := f.user(t, "bob@example.com", false)
	phone, laptop := f.login(t, ann, "s1"), f.login(t, ann, "s2")
	call, err := f.iss.IssueCallToken(ann.ID, false, "call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	bobs := f.login(t, bob, "s3")

	n, err := f.s.Logout(context.Background(), ann.ID)
	if err != nil || n != 2 {
		t.Fatalf("Logout = %d, %v; want 2 sessions", n, err)
	}
	for name, tok := range map[string]string{"phone access": phone.Access, "laptop access": laptop.Access,
		"laptop refresh": laptop.Refresh, "call": call} {
		if _, err := f.iss.Verify(tok, auth.Access, auth.Refresh, auth.Call); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s after logout: error = %v, want ErrRevoked", name, err)
		}
	}
	if _, err := f.refresh(laptop.Refresh); err == nil {
		t.Error("refresh after logout succeeded")
	}
	if _, err := f.iss.Verify(bobs.Access); err != nil {
		t.Errorf("other user after logout: %v", err)
	}
	again := f.login(t, ann, "s4")
	if _, err := f.iss.Verify(again.Access); err != nil {
		t.Errorf("login right after logout: %v", err)
	}
}

func TestUpdateAndLastAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	root := f.user(t, "root@example.com", true)
	ann := f.user(t, "ann@example.com", false)
	no := false
	yes := true
	if _, err := f.s.Update(ctx, root.ID, Patch{IsAdmin: &no}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote last admin: error = %v, want ErrLastAdmin", err)
	}
	if err := f.s.Delete(ctx, root.ID); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete last admin: error = %v, want ErrLastAdmin", err)
	}
	u, err := f.s.Update(ctx, ann.ID, Patch{IsAdmin: &yes})
	if err != nil || !u.IsAdmin || !f.s.IsAdmin(ann.ID) {
		t.Fatalf("promote: %+v, %v, IsAdmin=%v", u, err, f.s.IsAdmin(ann.ID))
	}
	// Two admins demote each other at once: exactly one demotion wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{root.ID, ann.ID} {
		wg.Go(func() { _, errs[i] = f.s.Update(ctx, id, Patch{IsAdmin: &no}) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("concurrent demotions: %v, %v; want exactly one ErrLastAdmin", errs[0], errs[1])
	}
	if f.s.IsAdmin(root.ID) == f.s.IsAdmin(ann.ID) {
		t.Errorf("admins after concurrent demotion: root %v, ann %v", f.s.IsAdmin(root.ID), f.s.IsAdmin(ann.ID))
	}

	bob := f.user(t, "bob@example.com", false)
	taken := "ANN@example.com"
	if _, err := f.s.Update(ctx, bob.ID, Patch{Email: &taken}); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("email taken: error = %v", err)
	}
	if _, err := f.s.Update(ctx, "nope", Patch{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: error = %v", err)
	}
	p := f.login(t, bob, "s1")
	pw := "new-password"
	if _, err := f.s.Update(ctx, bob.ID, Patch{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iss.Verify(p.Access); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("token after password change: error = %v, want ErrRevoked", err)
	}
	if _, err := f.s.Authenticate(ctx, "bob@example.com", pw); err != nil {
		t.Errorf("login with new password: %v", err)
	}
}

func TestDeleteKeepsOwnedRows(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "root@example.com", true)
	ann := f.user(t, "ann@example.com", false)
	p := f.login(t, ann, "s1")
	now := store.Now()
	for _, q := range []string{
		`INSERT INTO collections (id, name, label, created_at, updated_at) VALUES ('c1', 'notes', 'Notes', '` + now + `', '` + now + `')`,
		`INSERT INTO records (id, collection_id, owner_id, data, created_at, updated_at) VALUES ('r1', 'c1', '` + ann.ID + `', '{}', '` + now + `', '` + now + `')`,
		`INSERT INTO function_calls (id, function_name, status, requested_by_user_id, created_at) VALUES ('f1', 'hello', 'succeeded', '` + ann.ID + `', '` + now + `')`,
	} {
		if _, err := f.db.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.s.RequestReset(ctx, "ann@example.com", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Delete(ctx, ann.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var owner, requester *string
	if err := f.db.R.QueryRow(`SELECT owner_id FROM records WHERE id = 'r1'`).Scan(&owner); err != nil || owner != nil {
		t.Errorf("record owner after delete: %v, %v", owner, err)
	}
	if err := f.db.R.QueryRow(`SELECT requested_by_user_id FROM function_calls WHERE id = 'f1'`).Scan(&requester); err != nil || requester != nil {
		t.Errorf("call requester after delete: %v, %v", requester, err)
	}
	if _, err := f.iss.Verify(p.Access); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("token of deleted user: error = %v, want ErrRevoked", err)
	}
	if err := f.s.Delete(ctx, ann.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: error = %v", err)
	}
}

func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ann := f.user(t, "ann@example.com", false)
	p := f.login(t, ann, "s1")
	if _, _, err := f.s.RequestReset(ctx, "nobody@example.com", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown email: error = %v", err)
	}
	first, _, err := f.s.RequestReset(ctx, "ANN@example.com", time.Hour)
	if err != nil || len(first) != 64 {
		t.Fatalf("RequestReset = %q, %v", first, err)
	}
	second, u, err := f.s.RequestReset(ctx, "ann@example.com", time.Hour)
	if err != nil || u.ID != ann.ID {
		t.Fatal(err)
	}
	if _, err := f.s.ConfirmReset(ctx, first, "password2"); !errors.Is(err, ErrInvalidResetToken) {
		t.Errorf("superseded token: error = %v", err)
	}
	if _, err := f.s.ConfirmReset(ctx, second, "short"); !errors.Is(err, ErrPasswordTooShort) {
		t.Errorf("short password: error = %v", err)
	}
	if _, err := f.s.ConfirmReset(ctx, second, "password2"); err != nil {
		t.Fatalf("ConfirmReset: %v", err)
	}
	if _, err := f.s.ConfirmReset(ctx, second, "password3"); !errors.Is(err, ErrInvalidResetToken) {
		t.Errorf("token used twice: error = %v", err)
	}
	if _, err := f.iss.Verify(p.Access); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("session after reset: error = %v, want ErrRevoked", err)
	}
	if _, err := f.s.Authenticate(ctx, "ann@example.com", "password2"); err != nil {
		t.Errorf("login with reset password: %v", err)
	}
	expired, _, err := f.s.RequestReset(ctx, "ann@example.com", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if _, err := f.s.ConfirmReset(ctx, expired, "password4"); !errors.Is(err, ErrInvalidResetToken) {
		t.Errorf("expired token: error = %v", err)
	}
	if err := f.s.VerifyPassword(ctx, ann.ID, "password2"); err != nil {
		t.Errorf("VerifyPassword: %v", err)
	}
	if err := f.s.VerifyPassword(ctx, ann.ID, "password1"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("VerifyPassword old: %v", err)
	}
	if n, err := f.s.Prune(ctx); err != nil {
		t.Errorf("Prune = %d, %v", n, err)
	}
}

func TestListPages(t *testing.T) {
	f := newFixture(t)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		f.user(t, e, false)
	}
	p, err := f.s.List(context.Background(), 2, 1)
	if err != nil || p.Total != 3 || len(p.Users) != 2 || p.Users[0].Email != "b@example.com" {
		t.Fatalf("List = %+v, %v", p, err)
	}
}

func TestGetCacheFollowsWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "root@example.com", true)
	ann := f.user(t, "ann@example.com", false)
	if got, err := f.s.Get(ctx, ann.ID); err != nil || got != ann {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	email := "anne@example.com"
	if _, err := f.s.Update(ctx, ann.ID, Patch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.Get(ctx, ann.ID); got.Email != email {
		t.Errorf("Get after update: %+v", got)
	}
	if err := f.s.Delete(ctx, ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Get(ctx, ann.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}

	c := newCache(2)
	seen := c.writes.Load()
	c.fill(User{ID: "a"}, seen)
	c.put(User{ID: "b"})
	c.fill(User{ID: "stale"}, seen) // a write happened since the read began
	if _, ok := c.get("stale"); ok {
		t.Error("a read that raced a write was cached")
	}
	c.put(User{ID: "c"})
	if len(c.m) != 2 {
		t.Errorf("cache holds %d entries, bound is 2", len(c.m))
	}
}
