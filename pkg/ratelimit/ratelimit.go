// Package ratelimit counts requests per key (a client address, an email)
// in memory, with one token bucket per key.
//
// A Limiter allows Limit requests per Window for each key, refilling
// continuously, and says how long a refused caller should wait. Keys that
// have been idle for a full window are forgotten by the sweep inside
// Allow, and at most MaxKeys are kept, so a flood of distinct addresses
// cannot grow memory without bound: when full, new keys are refused
// rather than old ones forgotten, which would reset their counts.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a Limiter tracks when MaxKeys is 0.
const DefaultMaxKeys = 100_000

// Limiter is a keyed token-bucket limiter. It is safe for concurrent use.
type Limiter struct {
	limit   int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter allowing limit requests per window for each key.
// A limit of 0 or less allows everything. maxKeys of 0 is DefaultMaxKeys.
func New(limit int, window time.Duration, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if window <= 0 {
		window = time.Minute
	}
	return &Limiter{limit: limit, window: window, maxKeys: maxKeys, now: time.Now,
		buckets: map[string]*bucket{}}
}

// Limit returns the requests allowed per window.
func (l *Limiter) Limit() int { return l.limit }

// Window returns the period the limit applies to.
func (l *Limiter) Window() time.Duration { return l.window }

// Allow takes one request for key. When refused it returns false and how
// long until the next request would be allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.limit <= 0 {
		return true, 0
	}
	now := l.now()
	rate := float64(l.limit) / l.window.Seconds() // tokens per second
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			return false, l.window
		}
		b = &bucket{tokens: float64(l.limit), last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(l.limit), b.tokens+el*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	return false, wait
}

// sweep forgets buckets idle for a whole window (they are full again),
// at most once per window.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.window {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RetryAfter renders a wait as whole seconds for a Retry-After header,
// rounding up so a client that honours it is not refused again.
func RetryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
