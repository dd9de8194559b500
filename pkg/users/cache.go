package users

import (
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is how many accounts Get keeps in memory.
const DefaultCacheSize = 10_000

// cache keeps recently read accounts so that Get, which every
// GET /api/auth/me makes, does not read the database. The Service is the
// only writer of accounts, and every write replaces or drops the entry it
// changed, so an entry is never stale. A read that raced with a write is
// not stored (the write counter moved), so a slow read cannot put back
// the value a write just replaced. When full, an arbitrary entry makes
// room: the bound matters, the choice of victim hardly does.
type cache struct {
	mu     sync.RWMutex
	m      map[string]User
	max    int
	writes atomic.Uint64
}

func newCache(max int) *cache { return &cache{m: map[string]User{}, max: max} }

func (c *cache) get(id string) (User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.m[id]
	return u, ok
}

// fill stores u read from the database if no write happened since the
// read began (seen is writes.Load() taken before it).
func (c *cache) fill(u User, seen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes.Load() != seen {
		return
	}
	c.store(u)
}

// put records a committed write of u.
func (c *cache) put(u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes.Add(1)
	c.store(u)
}

// drop records a committed write that removed id or changed it in ways
// the caller did not read back.
func (c *cache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes.Add(1)
	delete(c.m, id)
}

func (c *cache) store(u User) {
	if _, ok := c.m[u.ID]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[u.ID] = u
}
