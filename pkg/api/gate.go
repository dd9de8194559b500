package api

import "sync"

// userGate counts each user's calls in flight so a user cannot run more
// than the configured number at once. The api is the only process that
// accepts calls, so an in-memory count is exact across all workers; a slot
// is released when the call's outcome is recorded, whatever it is
// (success, failure, timeout, lost worker), or when queueing fails.
type userGate struct {
	mu     sync.Mutex
	counts map[string]int
	owner  map[string]string // call id -> user id
}

func newUserGate() *userGate {
	return &userGate{counts: map[string]int{}, owner: map[string]string{}}
}

// acquire takes a slot for callID if user has fewer than limit calls in
// flight. A limit of 0 or less means no limit.
func (g *userGate) acquire(user, callID string, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if limit > 0 && g.counts[user] >= limit {
		return false
	}
	g.counts[user]++
	g.owner[callID] = user
	return true
}

// release frees the slot of callID, if it holds one. Safe to call more
// than once.
func (g *userGate) release(callID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	user, ok := g.owner[callID]
	if !ok {
		return
	}
	delete(g.owner, callID)
	if g.counts[user] <= 1 {
		delete(g.counts, user)
	} else {
		g.counts[user]--
	}
}

// inFlight returns how many calls user has running.
func (g *userGate) inFlight(user string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[user]
}
