package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newAt(c *clock, limit int) *Limiter { l := New(limit, time.Minute, 3); l.now = c.now; return l }
func allowN(l *Limiter, key string, n int) int {
	ok := 0
	for range n {
		if a, _ := l.Allow(key); a {
			ok++
		}
	}
	return ok
}

func TestAllow(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newAt(c, 5)
	if got := allowN(l, "a", 8); got != 5 {
		t.Fatalf("burst allowed %d, want 5", got)
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > 12*time.Second {
		t.Fatalf("over limit: %v, wait %v; want refused with about 12s", ok, wait)
	}
	if RetryAfter(wait) != 12 {
		t.Errorf("RetryAfter(%v) = %d", wait, RetryAfter(wait))
	}
	if got := allowN(l, "b", 5); got != 5 {
		t.Errorf("other key allowed %d, want 5", got)
	}
	c.advance(12 * time.Second)
	if got := allowN(l, "a", 3); got != 1 {
		t.Errorf("after 12s allowed %d, want 1 (one token refilled)", got)
	}
	c.advance(time.Minute)
	if got := allowN(l, "a", 6); got != 5 {
		t.Errorf("after a full window allowed %d, want 5", got)
	}
}

func TestKeyBound(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newAt(c, 5)
	for i := range 3 {
		l.Allow(fmt.Sprint(i))
	}
	if ok, _ := l.Allow("new"); ok {
		t.Error("a key beyond MaxKeys was allowed")
	}
	c.advance(time.Minute)
	if ok, _ := l.Allow("new"); !ok {
		t.Error("idle keys were not swept")
	}
	if l.Len() != 1 {
		t.Errorf("Len = %d after sweep, want 1", l.Len())
	}
}

func TestDisabled(t *testing.T) {
	var nilLimiter *Limiter
	for _, l := range []*Limiter{New(0, time.Minute, 0), nilLimiter} {
		if got := allowN(l, "a", 100); got != 100 {
			t.Errorf("disabled limiter allowed %d", got)
		}
	}
}

func TestConcurrent(t *testing.T) {
	l := New(50, time.Hour, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			n := allowN(l, "k", 20)
			mu.Lock()
			ok += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if ok != 50 {
		t.Errorf("allowed %d of 160 concurrent requests, want exactly 50", ok)
	}
}

func TestClientIP(t *testing.T) {
	p, err := ParseProxies([]string{"10.0.0.0/8", "192.168.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ peer, xff, want string }{
		{"203.0.113.9", "1.2.3.4", "203.0.113.9"},             // untrusted peer: header ignored
		{"10.1.2.3", "198.51.100.7", "198.51.100.7"},          // one proxy
		{"10.1.2.3", "6.6.6.6, 198.51.100.7", "198.51.100.7"}, // spoofed left part ignored
		{"10.1.2.3", "198.51.100.7, 192.168.1.1", "198.51.100.7"},
		{"10.1.2.3", "", "10.1.2.3"},
		{"10.1.2.3", "garbage", "10.1.2.3"},
		{"::ffff:10.1.2.3", "198.51.100.7", "198.51.100.7"},
	}
	for _, tt := range tests {
		if got := p.ClientIP(tt.peer, tt.xff); got != tt.want {
			t.Errorf("ClientIP(%q, %q) = %q, want %q", tt.peer, tt.xff, got, tt.want)
		}
	}
	if _, err := ParseProxies([]string{"not-an-ip"}); err == nil {
		t.Error("bad proxy accepted")
	}
	var none Proxies
	if got := none.ClientIP("10.1.2.3", "1.2.3.4"); got != "10.1.2.3" {
		t.Errorf("no proxies: %q", got)
	}
}
