package auth

import (
	"errors"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestRevocations(t *testing.T) {
	rev := NewRevocations()
	iss := NewIssuer(testSecret, IssuerOptions{AccessTTL: time.Hour, RefreshTTL: 48 * time.Hour, Revocations: rev})
	ann1, err := iss.IssuePair("ann", false, "s1")
	if err != nil {
		t.Fatal(err)
	}
	ann2, err := iss.IssuePair("ann", false, "s2")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := iss.IssuePair("bob", true, "s3")
	if err != nil {
		t.Fatal(err)
	}
	annCall, err := iss.IssueCallToken("ann", false, "call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	anonCall, err := iss.IssueCallToken("", false, "call-2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(name, tok string, typ TokenType) {
		t.Helper()
		if _, err := iss.Verify(tok, typ); err != nil {
			t.Errorf("%s: %v, want accepted", name, err)
		}
	}
	refused := func(name, tok string, typ TokenType) {
		t.Helper()
		if _, err := iss.Verify(tok, typ); !errors.Is(err, ErrRevoked) {
			t.Errorf("%s: error = %v, want ErrRevoked", name, err)
		}
	}

	// A replayed refresh token withdraws its session: both tokens of s1.
	rev.RevokeSession("s1", time.Now().Add(time.Hour))
	refused("s1 access", ann1.Access, Access)
	refused("s1 refresh", ann1.Refresh, Refresh)
	ok("s2 access", ann2.Access, Access)
	ok("call", annCall, Call)

	// A logout withdraws every token of the user issued so far, calls too,
	// and nothing of other users.
	rev.RevokeUser("ann", time.Now(), time.Now().Add(time.Hour))
	refused("s2 access", ann2.Access, Access)
	refused("s2 refresh", ann2.Refresh, Refresh)
	refused("call", annCall, Call)
	ok("other user", bob.Access, Access)
	ok("anonymous call", anonCall, Call)

	// Tokens issued after the cutoff pass, even within the same second.
	fresh, err := iss.IssuePair("ann", false, "s4")
	if err != nil {
		t.Fatal(err)
	}
	ok("fresh access", fresh.Access, Access)
	ok("fresh refresh", fresh.Refresh, Refresh)

	// An earlier cutoff never moves the cutoff back.
	rev.RevokeUser("ann", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	refused("s2 access after older cutoff", ann2.Access, Access)
}

func TestRevocationsPrune(t *testing.T) {
	rev := NewRevocations()
	now := time.Now()
	rev.RevokeUser("old", now.Add(-2*time.Hour), now.Add(-time.Hour))
	rev.RevokeUser("new", now, now.Add(time.Hour))
	rev.RevokeSession("s-old", now.Add(-time.Minute))
	rev.RevokeSession("s-new", now.Add(time.Minute))
	if n := rev.Prune(); n != 2 {
		t.Errorf("Prune dropped %d, want 2", n)
	}
	if rev.Len() != 2 || !rev.SessionRevoked("s-new") || rev.SessionRevoked("s-old") {
		t.Errorf("after prune: len %d", rev.Len())
	}
}

// TestRevocationsConcurrent runs checks beside writes; run with -race.
func TestRevocationsConcurrent(t *testing.T) {
	rev := NewRevocations()
	iss := NewIssuer(testSecret, IssuerOptions{Revocations: rev})
	p, err := iss.IssuePair("ann", false, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if i%2 == 0 {
					_, _ = iss.Verify(p.Access)
				} else {
					rev.RevokeSession("x", time.Now().Add(time.Duration(j)*time.Second))
					rev.Prune()
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkVerify(b *testing.B) {
	rev := NewRevocations()
	for i := range 1000 {
		rev.RevokeSession(string(rune(i)), time.Now().Add(time.Hour))
	}
	iss := NewIssuer(testSecret, IssuerOptions{Revocations: rev})
	p, err := iss.IssuePair("ann", false, "s1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := iss.Verify(p.Access); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestVerifyCacheKeyIsCopied verifies a token held in a reused buffer (as
// fiber hands out headers), then overwrites the buffer with another token
// of the same length: each must still yield its own claims.
func TestVerifyCacheKeyIsCopied(t *testing.T) {
	iss := NewIssuer(testSecret, IssuerOptions{})
	a, err := iss.IssuePair("aaaaaaaa-user", false, "s1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := iss.IssuePair("bbbbbbbb-user", false, "s2")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Access) != len(b.Access) {
		t.Skipf("tokens differ in length (%d, %d)", len(a.Access), len(b.Access))
	}
	buf := []byte(a.Access)
	if c, err := iss.Verify(unsafe.String(&buf[0], len(buf))); err != nil || c.Subject != "aaaaaaaa-user" {
		t.Fatalf("first: %+v, %v", c, err)
	}
	copy(buf, b.Access)
	if c, err := iss.Verify(unsafe.String(&buf[0], len(buf))); err != nil || c.Subject != "bbbbbbbb-user" {
		t.Fatalf("second token in the reused buffer: %+v, %v", c, err)
	}
	if c, err := iss.Verify(a.Access); err != nil || c.Subject != "aaaaaaaa-user" {
		t.Fatalf("first again: %+v, %v", c, err)
	}
}
