package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/schedule/schedstore"
	"github.com/tinybase/tinybase/pkg/store"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// Fire handling limits.
const (
	// listPageLimit caps one page of tb.schedules.list, keeping replies far
	// below the bus's message size limit.
	listPageLimit = 1000
	// fireMissingFunctionTries is how often a fire whose function is not
	// (yet) in the registry is retried before its call is recorded as
	// failed: right after an api start the registry is still loading.
	fireMissingFunctionTries = 5
	// fireRequeueWindow is how long after a call was recorded a redelivered
	// fire may publish it again: within the queue's deduplication window a
	// repeat is dropped by the bus, later it could run twice.
	fireRequeueWindow = 5 * time.Minute
)

// schedules is the api side of scheduling: the schedules table, its change
// events, the list the scheduler loads, and the fires it sends.
type schedules struct {
	store    *schedstore.Store
	conn     *bus.Conn
	registry *functions.Registry
	calls    *calls.Calls
	dispatch *dispatcher
	grace    time.Duration
	log      *slog.Logger
	events   *events

	listSub *nats.Subscription
	consume jetstream.ConsumeContext
}

// startSchedules opens the schedules table, answers the scheduler's list
// requests and consumes fires. The returned stop ends both.
func (s *Server) startSchedules(ctx context.Context, conn *bus.Conn, db *store.DB) (func(), error) {
	sv := &schedules{store: schedstore.NewStore(db), conn: conn, registry: s.registry, calls: s.calls,
		dispatch: s.dispatch, grace: time.Duration(s.cfg.Scheduler.MissedRunGraceSeconds) * time.Second,
		log: s.log.With("component", "schedules"), events: s.events}
	s.sched = sv
	var err error
	sv.listSub, err = conn.NC.QueueSubscribe(bus.SchedulesListSubject, "tb-api", sv.answerList)
	if err != nil {
		return nil, fmt.Errorf("answer schedule list: %w", err)
	}
	cons, err := conn.JS.Consumer(ctx, bus.FiresStream, bus.APIFiresConsumer)
	if err != nil {
		_ = sv.listSub.Unsubscribe()
		return nil, fmt.Errorf("open fires consumer: %w", err)
	}
	sv.consume, err = cons.Consume(sv.handleFire)
	if err != nil {
		_ = sv.listSub.Unsubscribe()
		return nil, fmt.Errorf("consume fires: %w", err)
	}
	return func() {
		sv.consume.Stop()
		_ = sv.listSub.Unsubscribe()
	}, nil
}

// stateOf converts a row into what the scheduler needs.
func stateOf(sc schedstore.Schedule) *busv1.ScheduleState {
	st := &busv1.ScheduleState{Id: sc.ID, SpecJson: sc.Schedule, IsActive: sc.IsActive, Revision: sc.Revision}
	if t, ok := sc.NextRun(); ok {
		st.NextRunAtUs = t.UnixMicro()
	}
	if t, ok := sc.LastRun(); ok {
		st.LastRunAtUs = t.UnixMicro()
	}
	return st
}

// publishEvent announces a committed change. It runs in the store's commit
// hook, so events leave in commit order; a core publish only buffers.
func (sv *schedules) publishEvent(op string) func(schedstore.Schedule) {
	return func(sc schedstore.Schedule) {
		data, err := proto.Marshal(&busv1.ScheduleEvent{Op: op, Schedule: stateOf(sc)})
		if err == nil {
			err = sv.conn.NC.Publish(bus.ScheduleEventPrefix+sc.ID, data)
		}
		if err != nil {
			sv.log.Warn("publish schedule event failed", "schedule_id", sc.ID, "error", err)
		}
	}
}

func (sv *schedules) answerList(m *nats.Msg) {
	var req busv1.ListSchedulesRequest
	reply := &busv1.ListSchedulesReply{}
	if err := proto.Unmarshal(m.Data, &req); err != nil {
		reply.Error = "bad request: " + err.Error()
	} else {
		limit := int(req.Limit)
		if limit <= 0 || limit > listPageLimit {
			limit = listPageLimit
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		list, more, err := sv.store.Active(ctx, req.AfterId, limit)
		cancel()
		if err != nil {
			sv.log.Error("list active schedules failed", "error", err)
			reply.Error = "could not read schedules"
		}
		for _, sc := range list {
			reply.Schedules = append(reply.Schedules, stateOf(sc))
		}
		reply.More = more
	}
	data, _ := proto.Marshal(reply)
	_ = m.Respond(data)
}

// handleFire turns a fire into a call. It is idempotent: the call id is
// derived from the fire, the row's times only move forward, and the
// message is acknowledged last, so a redelivery after a crash at any step
// neither loses the run nor runs it twice.
func (sv *schedules) handleFire(msg jetstream.Msg) {
	var f busv1.Fire
	if err := proto.Unmarshal(msg.Data(), &f); err != nil {
		sv.log.Error("drop undecodable fire", "error", err)
		_ = msg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	due := time.UnixMicro(f.DueAtUs).UTC()
	log := sv.log.With("schedule_id", f.ScheduleId, "due", due.Format(time.RFC3339Nano))
	sc, err := sv.store.Get(ctx, f.ScheduleId)
	if errors.Is(err, schedstore.ErrNotFound) {
		log.Debug("fire for a deleted schedule dropped")
		_ = msg.Ack()
		return
	}
	if err != nil {
		log.Error("read schedule for fire failed; will retry", "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if sc.Revision != f.Revision || !sc.IsActive {
		log.Info("stale fire dropped", "fire_revision", f.Revision, "revision", sc.Revision, "active", sc.IsActive)
		_ = msg.Ack()
		return
	}
	now := time.Now()
	next, hasNext := time.UnixMicro(f.NextAtUs).UTC(), f.NextAtUs != 0
	outcome := schedstore.Ran
	switch {
	case f.Missed:
		outcome = schedstore.Missed
		log.Warn("scheduled run missed: it came due longer ago than the grace", "grace", sv.grace)
	case now.Sub(due) > sv.grace:
		outcome = schedstore.Missed
		log.Warn("scheduled run skipped: recorded too late", "late", now.Sub(due), "grace", sv.grace)
	case hasNext && !next.After(now):
		// A later instant is already due; its fire follows and runs.
		outcome = schedstore.Missed
		log.Info("scheduled run coalesced into a later one", "next", next)
	}
	if outcome == schedstore.Ran {
		if retry := sv.run(ctx, msg, sc, due, log); retry {
			return
		}
	}
	if _, err := sv.store.RecordFire(ctx, sc.ID, f.Revision, due, outcome, next, hasNext,
		sv.publishEvent("updated")); err != nil && !errors.Is(err, schedstore.ErrNotFound) {
		log.Error("record fire failed; will retry", "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	sv.events.emit(fireEvent(sc, due, outcome))
	_ = msg.Ack()
}

// run records and queues the call of a fire. It returns true when the
// message was handed back for a later retry.
func (sv *schedules) run(ctx context.Context, msg jetstream.Msg, sc schedstore.Schedule, due time.Time,
	log *slog.Logger) bool {
	id := schedule.CallID(sc.ID, due)
	if c, err := sv.calls.Get(ctx, id); err == nil {
		created, _ := time.Parse(time.RFC3339Nano, c.CreatedAt)
		if c.Status != calls.StatusRunning || time.Since(created) > fireRequeueWindow {
			log.Debug("fire already handled", "call_id", id)
			return false
		}
	}
	m, ok := sv.registry.Get(sc.FunctionName)
	if !ok {
		if md, err := msg.Metadata(); err == nil && md.NumDelivered < fireMissingFunctionTries {
			_ = msg.NakWithDelay(2 * time.Second)
			return true
		}
		sv.recordMissingFunction(ctx, id, sc, log)
		return false
	}
	_, err := sv.dispatch.enqueue(ctx, callInput{CallID: id, Meta: m, Payload: sc.InputData,
		TriggerType: calls.TriggerSchedule, TriggerID: sc.ID})
	if err != nil {
		log.Error("queue scheduled call failed; will retry", "call_id", id, "error", err)
		_ = msg.NakWithDelay(2 * time.Second)
		return true
	}
	log.Debug("scheduled call queued", "call_id", id, "function", sc.FunctionName)
	return false
}

// recordMissingFunction records a scheduled call whose function does not
// exist as failed, so the admin sees why nothing ran.
func (sv *schedules) recordMissingFunction(ctx context.Context, id string, sc schedstore.Schedule, log *slog.Logger) {
	trigger := sc.ID
	if _, err := sv.calls.Create(ctx, calls.NewCall{ID: id, FunctionName: sc.FunctionName,
		TriggerType: calls.TriggerSchedule, TriggerID: &trigger}); err != nil && !errors.Is(err, calls.ErrCallExists) {
		log.Error("record scheduled call failed", "error", err)
		return
	}
	msg, typ := fmt.Sprintf("Function '%s' not found", sc.FunctionName), "FunctionNotFound"
	now := time.Now()
	if c, applied, err := sv.calls.Finish(ctx, id, calls.Outcome{Status: calls.StatusFailed, ErrorMessage: &msg,
		ErrorType: &typ, StartedAt: now, FinishedAt: now}); err == nil && applied {
		sv.events.emit(callFinishedEvent(c))
	}
	log.Warn("scheduled function not found", "function", sc.FunctionName)
}
