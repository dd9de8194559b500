package auth

import (
	"strings"
	"sync"
)

// verifiedCacheSize bounds the tokens an Issuer remembers as verified:
// enough for the active sessions of a busy instance, a few MiB at most.
const verifiedCacheSize = 8192

// verifiedCache remembers tokens whose signature and claims passed, keyed
// by their exact text, so a client that sends the same access token with
// every request pays for decoding and the HMAC once. Only successes are
// kept; expiry, type and revocation are still checked on every use. When
// full, an arbitrary entry makes room.
type verifiedCache struct {
	mu  sync.RWMutex
	m   map[string]*Claims
	max int
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{m: make(map[string]*Claims), max: max}
}

func (v *verifiedCache) get(token string) (*Claims, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, ok := v.m[token]
	return c, ok
}

// add remembers token. The key is a copy: callers may pass a string that
// aliases a buffer they reuse (fiber's request headers do), and a key whose
// bytes change under the map would return one token's claims for another.
func (v *verifiedCache) add(token string, c Claims) {
	token = strings.Clone(token)
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[token]; !ok && len(v.m) >= v.max {
		for k := range v.m {
			delete(v.m, k)
			break
		}
	}
	v.m[token] = &c
}

func (v *verifiedCache) remove(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, token)
}
