package api

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tinybase/tinybase/pkg/bus"
)

// workerLiveness is how long a worker counts as live after its last
// heartbeat. It is generous because a false "no worker" refuses calls a
// loaded worker would have run; a worker that stops normally says so at
// once (bus.WorkerLeavingSubject), and a call accepted just after a crash
// waits in the queue for the restarted worker.
const workerLiveness = 10 * bus.WorkerHeartbeatInterval

// workerView tracks live workers from their heartbeats, so a call can be
// refused at once when no worker could run it instead of waiting for the
// function timeout.
type workerView struct {
	mu    sync.Mutex
	seen  map[string]workerSeen
	sub   *nats.Subscription
	leave *nats.Subscription
	// notify, once set, is told when a worker joins or is lost.
	notify atomic.Pointer[events]
	// since is when the view started: a worker that started before it
	// was already running when the api came up.
	since time.Time
}

type workerSeen struct {
	status bus.RoleStatus
	at     time.Time
	// started is when this incarnation of the worker started: a worker
	// restarted under the same id has lost the calls it held.
	started time.Time
}

func seenNow(st bus.RoleStatus) workerSeen {
	started, _ := time.Parse(time.RFC3339Nano, st.StartedAt)
	return workerSeen{status: st, at: time.Now(), started: started}
}

func newWorkerView(nc *nats.Conn) (*workerView, error) {
	w := &workerView{seen: map[string]workerSeen{}, since: time.Now()}
	sub, err := nc.Subscribe(bus.WorkerHeartbeatSubject, func(m *nats.Msg) {
		var st bus.RoleStatus
		if json.Unmarshal(m.Data, &st) != nil || st.ID == "" {
			return
		}
		w.mu.Lock()
		prev, known := w.seen[st.ID]
		// A worker that said it is leaving stays draining until it stops.
		st.Draining = st.Draining || prev.status.Draining
		w.seen[st.ID] = seenNow(st)
		w.mu.Unlock()
		if !known {
			w.tell(EventWorkerJoined, st.ID, w.joinedData(st))
		}
	})
	w.sub = sub
	w.leave, err = nc.Subscribe(bus.WorkerLeavingSubject, func(m *nats.Msg) {
		id := string(m.Data)
		w.mu.Lock()
		s, known := w.seen[id]
		known = known && !s.status.Draining
		if known {
			// Kept, not forgotten: its heartbeats while it drains tell the
			// api that the calls it still runs can finish.
			s.status.Draining = true
			w.seen[id] = s
		}
		w.mu.Unlock()
		if known {
			w.tell(EventWorkerLost, id, map[string]any{"reason": "left"})
		}
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return w, nil
}

// live returns the workers heard from recently that take new calls,
// sorted by id.
func (w *workerView) live() []bus.RoleStatus {
	var silent []string
	defer func() {
		for _, id := range silent {
			w.tell(EventWorkerLost, id, map[string]any{"reason": "silent"})
		}
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []bus.RoleStatus
	for id, s := range w.seen {
		if time.Since(s.at) > workerLiveness {
			delete(w.seen, id)
			if !s.status.Draining {
				silent = append(silent, id)
			}
			continue
		}
		if !s.status.Draining {
			out = append(out, s.status)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// latest returns the worker's last status and when it was heard, draining
// or not.
func (w *workerView) latest(id string) (bus.RoleStatus, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.seen[id]
	return s.status, s.at, ok
}

// holdsSince reports whether the worker can still finish a call an
// earlier api handed to it at sent: it was heard from within the last
// window, draining or not, and started before sent (by the clocks of
// their hosts).
func (w *workerView) holdsSince(id string, sent time.Time, window time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.seen[id]
	return ok && time.Since(s.at) <= window && !s.started.After(sent)
}

// snapshot returns the live workers with when each was last heard from.
func (w *workerView) snapshot() []workerSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]workerSeen, 0, len(w.seen))
	for id, s := range w.seen {
		if time.Since(s.at) > workerLiveness {
			delete(w.seen, id)
			continue
		}
		if !s.status.Draining {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].status.ID < out[j].status.ID })
	return out
}

// waitLive waits up to d for a first heartbeat; the api uses it right
// after start so calls are not refused while workers announce themselves.
func (w *workerView) waitLive(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(w.live()) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return len(w.live()) > 0
}

// seed asks every live role for its status once, so workers are known
// right after the api starts instead of after their next heartbeat. Each
// worker counts as live as soon as it answers.
func (w *workerView) seed(nc *nats.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = bus.CollectStatusFunc(ctx, nc, 500*time.Millisecond, w.add)
}

// probe asks the roles for their status and reports whether a worker
// answers within wait; it ends at the first one. A call that finds no
// live worker uses it before refusing, so a worker that started just
// before the api is not missed while its next heartbeat is due.
func (w *workerView) probe(nc *nats.Conn, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	found := false
	_, _ = bus.CollectStatusFunc(ctx, nc, wait, func(r bus.RoleStatus) {
		if r.Role == "worker" {
			w.add(r)
			found = true
			cancel()
		}
	})
	return found
}

// add counts a worker that answered a status request as live.
func (w *workerView) add(r bus.RoleStatus) {
	if r.Role != "worker" {
		return
	}
	w.mu.Lock()
	_, known := w.seen[r.ID]
	if !known {
		w.seen[r.ID] = seenNow(r)
	}
	w.mu.Unlock()
	if !known {
		w.tell(EventWorkerJoined, r.ID, w.joinedData(r))
	}
}

// joinedData describes a worker that joined; at_api_start marks one that
// was already running when the api started (a restart of the api, not
// of the worker).
func (w *workerView) joinedData(st bus.RoleStatus) map[string]any {
	d := map[string]any{"host": st.Host, "pid": st.PID}
	if t, err := time.Parse(time.RFC3339, st.StartedAt); err == nil && t.Before(w.since.Truncate(time.Second)) {
		d["at_api_start"] = true
	}
	return d
}

// tell emits a worker event when someone listens.
func (w *workerView) tell(kind, id string, data map[string]any) {
	if ev := w.notify.Load(); ev != nil {
		ev.emit(Event{Kind: kind, Subject: id, Data: data})
	}
}

func (w *workerView) stop() {
	if w.sub != nil {
		_ = w.sub.Unsubscribe()
	}
	if w.leave != nil {
		_ = w.leave.Unsubscribe()
	}
}
