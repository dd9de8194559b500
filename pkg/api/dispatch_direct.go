package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/calls"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// Direct calls. A synchronous call is handed straight to a worker with a
// free slot over core NATS, which spares it the work queue's storage and
// delivery. The caller waits anyway, so nothing is acknowledged before the
// result; what the queue would otherwise guarantee is kept like this:
//
//   - a worker that cannot take the call answers busy, and a worker that
//     is gone makes NATS answer no-responders: the call is queued instead;
//   - a worker that goes silent (no heartbeat for directLostAfter),
//     restarts, or whose heartbeats do not list the call (it never got
//     it) loses it: the call is queued for another worker;
//   - results travel as for queued calls (ResultDirectSubject, else the
//     results stream), so an api restart loses none, and the result
//     carries the call's origin for a record the api never wrote;
//   - a running record names the worker; an api that starts and finds
//     such a call on a worker that stays silent, or started after the
//     call, records it as lost.

// directLostAfter is how long a worker holding direct calls may go
// without a heartbeat before its calls are queued for another worker.
const directLostAfter = 3 * bus.WorkerHeartbeatInterval

// directListedWithin is how long after a call was sent a heartbeat of its
// worker must list it: one heartbeat interval and then some.
const directListedWithin = bus.WorkerHeartbeatInterval * 3 / 2

// startDirect subscribes to the replies of direct calls and starts the
// watch over the workers holding them.
func (d *dispatcher) startDirect(ctx context.Context) error {
	d.directInbox = d.conn.NC.NewRespInbox()
	sub, err := d.conn.NC.Subscribe(d.directInbox+".*", d.handleDirectReply)
	if err != nil {
		return err
	}
	d.directReplies = sub
	go d.watchDirect(ctx)
	return nil
}

// sendDirect hands the call to a worker with a free slot and reports
// whether it did.
func (d *dispatcher) sendDirect(id string, p *pendingCall) bool {
	if d.workers == nil || d.directInbox == "" {
		return false
	}
	live := d.workers.live()
	d.mu.Lock()
	defer d.mu.Unlock()
	best, bestStarted, bestLoad := "", "", 0
	n := len(live)
	start := int(d.rotate.Add(1) % uint64(max(n, 1)))
	for i := range n {
		w := live[(start+i)%n]
		load := d.perWorker[w.ID]
		if !w.Direct || load >= max(w.Concurrency, 1) {
			continue
		}
		if best == "" || load < bestLoad {
			best, bestStarted, bestLoad = w.ID, w.StartedAt, load
		}
	}
	if best == "" {
		return false
	}
	// Publishing under the lock keeps a fast reply from finding the call
	// not yet marked as sent.
	if err := d.conn.NC.PublishRequest(bus.DirectCallSubject(best), d.directInbox+"."+id, p.request); err != nil {
		return false
	}
	p.worker, p.workerStarted, p.sentAt = best, bestStarted, time.Now()
	d.perWorker[best]++
	return true
}

// leftWorkerLocked notes that the call no longer waits on the worker it
// was handed to. d.mu is held.
func (d *dispatcher) leftWorkerLocked(p *pendingCall) {
	if p.worker == "" {
		return
	}
	if d.perWorker[p.worker]--; d.perWorker[p.worker] <= 0 {
		delete(d.perWorker, p.worker)
	}
	p.worker = ""
}

// handleDirectReply takes a worker's busy answer, or NATS's no-responders
// for a worker that is gone, and queues the call instead.
func (d *dispatcher) handleDirectReply(m *nats.Msg) {
	id := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	noResponders := len(m.Data) == 0 && m.Header.Get("Status") == "503"
	if !noResponders && string(m.Data) != bus.DirectBusy {
		return
	}
	d.requeue(id, "", 0)
}

// requeue moves a direct call to the work queue. With from set, only if
// the call is still on that worker, counting the attempt it lost there.
func (d *dispatcher) requeue(id, from string, lostAttempts int32) {
	d.mu.Lock()
	p := d.waiters[id]
	if p == nil || p.worker == "" || (from != "" && p.worker != from) {
		d.mu.Unlock()
		return
	}
	d.leftWorkerLocked(p)
	p.requeued = true
	d.mu.Unlock()
	data := p.request
	if lostAttempts > 0 {
		var req busv1.CallRequest
		if proto.Unmarshal(data, &req) == nil {
			req.PriorAttempts += lostAttempts
			if b, err := proto.Marshal(&req); err == nil {
				data = b
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.calls.Requeued(ctx, id); err != nil {
			d.log.Warn("clear worker of a requeued call failed", "call_id", id, "error", err)
		}
		cancel()
	}
	go func() {
		if err := <-d.publishQueued(id, p.function, data); err != nil {
			// The caller learns it from the failed call; queueFailed
			// records it.
			d.notify(&busv1.CallResult{CallId: id, Status: calls.StatusFailed, ErrorType: "DispatchError",
				ErrorMessage: "Could not queue the call: " + err.Error()})
			_ = d.queueFailed(id, p.function, err, &p.origin, nil)
		}
	}()
}

// watchDirect queues the direct calls of workers that can no longer
// finish them (see stillHeld).
func (d *dispatcher) watchDirect(ctx context.Context) {
	interval := bus.WorkerHeartbeatInterval / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// After a stall of this process (a pause, a starved CPU), the
		// heartbeats that came meanwhile are still being read: judge
		// nobody before they are.
		stalled := time.Since(last) > 2*interval
		last = time.Now()
		if stalled {
			continue
		}
		type held struct{ id, worker, why string }
		var lost []held
		d.mu.Lock()
		for id, p := range d.waiters {
			if p.worker == "" || time.Since(p.sentAt) < directLostAfter {
				continue
			}
			if why := d.stillHeld(id, p); why != "" {
				lost = append(lost, held{id, p.worker, why})
			}
		}
		d.mu.Unlock()
		for _, h := range lost {
			if d.resultWaiting(ctx, h.id) {
				continue // the worker stored the result while the api was unreachable
			}
			d.log.Warn("direct call lost; it goes to the queue", "call_id", h.id, "worker_id", h.worker,
				"reason", h.why)
			d.requeue(h.id, h.worker, 1)
		}
	}
}

// stillHeld tells why the worker a call was handed to can no longer finish
// it, or "" if it can: it must have been heard from within
// directLostAfter, not have restarted since, and, once it had time to say
// so in a heartbeat, list the call among those it holds (a call lost on
// the way, say while the worker reconnected, is never listed). d.mu is
// held.
func (d *dispatcher) stillHeld(id string, p *pendingCall) string {
	st, at, ok := d.workers.latest(p.worker)
	switch {
	case !ok || time.Since(at) > directLostAfter:
		return "worker silent"
	case st.StartedAt != p.workerStarted:
		return "worker restarted"
	case at.Sub(p.sentAt) >= directListedWithin && !slices.Contains(st.Calls, id):
		return "worker does not hold it"
	}
	return ""
}

// resultWaiting reports whether the call's result is in the results
// stream, where a worker that could not reach the api stored it.
func (d *dispatcher) resultWaiting(ctx context.Context, id string) bool {
	stream, err := d.conn.JS.Stream(ctx, bus.ResultsStream)
	if err != nil {
		return false
	}
	_, err = stream.GetLastMsgForSubject(ctx, bus.ResultSubjectPrefix+id)
	return err == nil
}

// dropQueued removes the queued copy of a call whose outcome is recorded,
// so a call requeued from a worker that then finished it after all does
// not run again.
func (d *dispatcher) dropQueued(function, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := d.conn.JS.Stream(ctx, bus.CallsStream)
	if err == nil {
		err = stream.Purge(ctx, jetstream.WithPurgeSubject(bus.CallSubject(function, id)))
	}
	if err != nil {
		d.log.Warn("drop the queued copy of a finished call failed; it may run again", "call_id", id,
			"error", err)
	}
}

// sweepOrphans records as lost the calls a previous api handed to workers
// that have not been heard from since it started. It runs once, after the
// workers had time to announce themselves.
func (d *dispatcher) sweepOrphans(ctx context.Context, running []calls.Call) {
	var held []calls.Call
	for _, c := range running {
		if c.WorkerID != nil {
			held = append(held, c)
		}
	}
	if len(held) == 0 || d.workers == nil {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(directLostAfter + bus.WorkerHeartbeatInterval):
	}
	var stream jetstream.Stream
	for _, c := range held {
		created, err := time.Parse(time.RFC3339Nano, c.CreatedAt)
		if err == nil && d.workers.holdsSince(*c.WorkerID, created, directLostAfter) {
			continue // its worker lives and will report it
		}
		// A worker that drained handed the call back to the queue, where
		// it waits or runs again.
		if stream == nil {
			stream, _ = d.conn.JS.Stream(ctx, bus.CallsStream)
		}
		if stream != nil {
			if _, err := stream.GetLastMsgForSubject(ctx, bus.CallSubject(c.FunctionName, c.ID)); err == nil {
				continue
			}
		}
		now := time.Now()
		f := d.recorder.commit(c.ID, calls.Outcome{Status: calls.StatusFailed, ErrorType: ptrTo("WorkerLost"),
			ErrorMessage: ptrTo("The worker running the call stopped while the api restarted"),
			StartedAt:    now, FinishedAt: now, Attempts: max(c.Attempts, 1)})
		if f.Err != nil {
			d.log.Error("record orphaned call failed", "call_id", c.ID, "error", f.Err)
			continue
		}
		d.gate.release(c.ID)
		d.active.Delete(c.ID)
		if f.Applied {
			d.events.Load().emit(callFinishedEvent(f.Call))
			d.log.Warn("call lost with its worker during an api restart", "call_id", c.ID, "worker_id", *c.WorkerID)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
