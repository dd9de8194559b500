package activity

import "sync"

// SubscriberBuffer is how many entries a subscriber may fall behind
// before it is cut off: a stream that cannot keep up ends rather than
// slowing the writer or growing without bound.
const SubscriberBuffer = 256

// hub hands committed entries to live subscribers (the admin's event
// stream).
type hub struct {
	mu     sync.Mutex
	subs   map[chan Entry]struct{}
	closed bool
}

// Subscribe returns a channel that receives every entry written from now
// on, in commit order, and a cancel function. The channel is closed when
// cancel is called, when the subscriber falls SubscriberBuffer entries
// behind, or when the log closes or its subscriptions are ended.
func (l *Log) Subscribe() (<-chan Entry, func()) {
	return l.hub.subscribe()
}

// EndSubscriptions closes every subscription now and refuses new ones;
// the api calls it when it starts shutting down so that open streams do
// not hold up the HTTP shutdown. Appending keeps working.
func (l *Log) EndSubscriptions() { l.hub.close() }

func (h *hub) subscribe() (<-chan Entry, func()) {
	ch := make(chan Entry, SubscriberBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	if h.subs == nil {
		h.subs = map[chan Entry]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// publish hands entries to every subscriber without blocking.
func (h *hub) publish(entries []Entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		for _, e := range entries {
			select {
			case ch <- e:
			default:
				delete(h.subs, ch)
				close(ch)
			}
			if _, ok := h.subs[ch]; !ok {
				break
			}
		}
	}
}

// close ends every subscription and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// Subscribers returns how many subscriptions are open.
func (l *Log) Subscribers() int {
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	return len(l.hub.subs)
}
