package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/schedule"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// listPage is how many schedules one list request asks for.
const listPage = 1000

// leaderLoop fires schedules while this scheduler holds the lease. It keeps
// every active schedule in a heap ordered by next instant, with one timer
// set to the earliest: nothing runs between instants except the handling
// of change events.
type leaderLoop struct {
	nc    *nats.Conn
	id    string
	grace time.Duration
	log   *slog.Logger
	// held reports whether the lease is still safely ours; nothing fires
	// otherwise.
	held func() bool
	pub  *publisher

	entries map[string]*entry
	// revs is the newest revision seen of every schedule, including those
	// deleted or inactive, so that a late event cannot bring back an old
	// state.
	revs map[string]int64
	tl   timeline

	mu      sync.Mutex
	pending []*busv1.ScheduleEvent
	resync  bool
	wake    chan struct{}
}

func newLeader(nc *nats.Conn, pub *publisher, id string, grace time.Duration, held func() bool,
	log *slog.Logger) *leaderLoop {
	return &leaderLoop{nc: nc, pub: pub, id: id, grace: grace, held: held, log: log,
		entries: map[string]*entry{}, revs: map[string]int64{}, wake: make(chan struct{}, 1)}
}

func (l *leaderLoop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// onEvent queues a change event for the loop.
func (l *leaderLoop) onEvent(m *nats.Msg) {
	var ev busv1.ScheduleEvent
	if err := proto.Unmarshal(m.Data, &ev); err != nil || ev.Schedule == nil {
		l.log.Warn("drop undecodable schedule event", "subject", m.Subject)
		return
	}
	l.mu.Lock()
	l.pending = append(l.pending, &ev)
	l.mu.Unlock()
	l.signal()
}

// requestResync makes the loop reload every schedule, after a reconnect
// during which events may have been lost.
func (l *leaderLoop) requestResync() {
	l.mu.Lock()
	l.resync = true
	l.mu.Unlock()
	l.signal()
}

// run loads the schedules and fires them until ctx is done.
func (l *leaderLoop) run(ctx context.Context) error {
	sub, err := l.nc.Subscribe(bus.ScheduleEventPrefix+">", l.onEvent)
	if err != nil {
		return fmt.Errorf("subscribe to schedule events: %w", err)
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := l.load(ctx); err != nil {
		return err
	}
	l.log.Info("schedules loaded", "active", len(l.entries))

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.arm(timer)
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
			l.mu.Lock()
			resync := l.resync
			l.resync = false
			l.mu.Unlock()
			if resync {
				if err := l.load(ctx); err != nil {
					return err
				}
				l.log.Info("schedules reloaded", "active", len(l.entries))
			}
			l.applyPending()
		case <-timer.C:
			l.fireDue(time.Now())
		}
	}
}

// arm sets the timer to the earliest next instant.
func (l *leaderLoop) arm(t *time.Timer) {
	t.Stop()
	if len(l.tl) == 0 {
		return
	}
	t.Reset(time.Until(l.tl[0].next))
}

// load replaces the in-memory schedules with the api's list, paging
// through it, and retries until the api answers or ctx ends. An instant
// this leader already moved past is kept: the stored next instant lags
// until the api has recorded the fire.
func (l *leaderLoop) load(ctx context.Context) error {
	var list []*busv1.ScheduleState
	for attempt := 0; ; attempt++ {
		var err error
		if list, err = l.list(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt%20 == 0 {
			l.log.Warn("load schedules from the api failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(time.Duration(attempt+1)*250*time.Millisecond, 2*time.Second)):
		}
	}
	old := l.entries
	l.entries, l.revs, l.tl = map[string]*entry{}, map[string]int64{}, l.tl[:0]
	for _, st := range list {
		l.apply(st, false)
		if e, ok := l.entries[st.Id]; ok {
			if prev, ok := old[st.Id]; ok && prev.rev == e.rev && prev.next.After(e.next) {
				e.next = prev.next
				heap.Fix(&l.tl, e.index)
			}
		}
	}
	return nil
}

func (l *leaderLoop) list(ctx context.Context) ([]*busv1.ScheduleState, error) {
	var out []*busv1.ScheduleState
	after := ""
	for {
		data, _ := proto.Marshal(&busv1.ListSchedulesRequest{AfterId: after, Limit: listPage})
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		msg, err := l.nc.RequestWithContext(rctx, bus.SchedulesListSubject, data)
		cancel()
		if err != nil {
			return nil, err
		}
		var reply busv1.ListSchedulesReply
		if err := proto.Unmarshal(msg.Data, &reply); err != nil {
			return nil, err
		}
		if reply.Error != "" {
			return nil, errors.New(reply.Error)
		}
		out = append(out, reply.Schedules...)
		if !reply.More || len(reply.Schedules) == 0 {
			return out, nil
		}
		after = reply.Schedules[len(reply.Schedules)-1].Id
	}
}

func (l *leaderLoop) applyPending() {
	l.mu.Lock()
	events := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, ev := range events {
		l.apply(ev.Schedule, ev.Op == "deleted")
	}
}

// apply brings one schedule to the state st, unless a newer revision of
// it was seen already.
func (l *leaderLoop) apply(st *busv1.ScheduleState, deleted bool) {
	if rev, seen := l.revs[st.Id]; seen && st.Revision <= rev {
		return
	}
	l.revs[st.Id] = st.Revision
	if e, ok := l.entries[st.Id]; ok {
		heap.Remove(&l.tl, e.index)
		delete(l.entries, st.Id)
	}
	if deleted || !st.IsActive || st.NextRunAtUs == 0 {
		return
	}
	spec, err := schedule.Parse(st.SpecJson)
	if err != nil {
		l.log.Error("schedule cannot be parsed; not firing it", "schedule_id", st.Id, "error", err)
		return
	}
	e := &entry{id: st.Id, spec: spec, rev: st.Revision, next: time.UnixMicro(st.NextRunAtUs).UTC()}
	l.entries[st.Id] = e
	heap.Push(&l.tl, e)
}

// fireDue publishes every schedule whose instant has come: one fire for
// the latest due instant (or a missed report beyond the grace), then
// waits for the schedule's following instant.
func (l *leaderLoop) fireDue(now time.Time) {
	if len(l.tl) == 0 || l.tl[0].next.After(now) {
		return
	}
	if !l.held() {
		return // the lease loop stops this leader shortly
	}
	for len(l.tl) > 0 && !l.tl[0].next.After(now) {
		e := l.tl[0]
		p := e.spec.PlanDue(e.next, now, l.grace)
		f := &busv1.Fire{ScheduleId: e.id, Revision: e.rev, SchedulerId: l.id}
		if p.Run {
			f.DueAtUs = p.Fire.UnixMicro()
		} else {
			f.DueAtUs, f.Missed = p.MissedAt.UnixMicro(), true
			l.log.Warn("schedule missed its runs: they came due longer ago than the grace",
				"schedule_id", e.id, "since", p.MissedAt, "grace", l.grace)
		}
		if p.HasNext {
			f.NextAtUs = p.Next.UnixMicro()
		}
		l.pub.fire(f)
		if p.HasNext {
			e.next = p.Next
			heap.Fix(&l.tl, 0)
		} else {
			heap.Pop(&l.tl)
			delete(l.entries, e.id)
		}
	}
	l.pub.flush()
}
