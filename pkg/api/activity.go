package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinybase/tinybase/pkg/activity"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/schedule/schedstore"
	"github.com/tinybase/tinybase/pkg/settings"
	"github.com/tinybase/tinybase/pkg/store"
)

// activityPruneInterval is how often the activity log is cut to
// core.activity.retention_days.
const activityPruneInterval = time.Hour

// startActivity opens the activity log, makes it the observer of every
// api event, and starts its retention prune and the sweep that notices
// workers gone silent. The returned stop ends both and writes what is
// still queued; call it before the database closes.
func (s *Server) startActivity(ctx context.Context, db *store.DB) func() {
	s.activity = activity.Open(db, s.log.With("component", "activity"))
	var refused atomic.Uint64
	s.events.observe(func(ev Event) {
		err := s.activity.Append(activity.New{At: ev.At, Kind: ev.Kind, ActorID: ev.ActorID,
			Subject: ev.Subject, Message: activityMessage(ev), Data: ev.Data})
		if err != nil && !errors.Is(err, activity.ErrClosed) {
			if n := refused.Add(1); n == 1 || n%1000 == 0 {
				s.log.Warn("activity entry refused", "kind", ev.Kind, "refused", n, "error", err)
			}
		}
		if ev.Kind == EventAPIStopping {
			// Open event streams would hold up the HTTP shutdown.
			s.activity.EndSubscriptions()
		}
	})
	if s.dispatch != nil {
		s.dispatch.events.Store(s.events)
		if w := s.dispatch.workers; w != nil {
			w.notify.Store(s.events)
			// Workers that announced themselves before anyone listened.
			for _, st := range w.live() {
				s.events.emit(Event{Kind: EventWorkerJoined, Subject: st.ID,
					Data: map[string]any{"host": st.Host, "pid": st.PID, "at_api_start": true}})
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.activity.Retention(ctx, activityPruneInterval, func() int {
			return int(s.acct.settings.Current().Int(settings.ActivityRetentionDays))
		})
	}()
	go func() {
		defer wg.Done()
		s.sweepWorkers(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
		s.activity.Close()
	}
}

// sweepWorkers asks the worker view for live workers now and then, which
// is when it notices (and reports) workers whose heartbeats stopped.
func (s *Server) sweepWorkers(ctx context.Context) {
	if s.dispatch == nil || s.dispatch.workers == nil {
		return
	}
	t := time.NewTicker(workerLiveness / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.dispatch.workers.live()
		}
	}
}

// activityMessage is the one-line text of an event in the activity log.
func activityMessage(ev Event) string {
	str := func(k string) string { v, _ := ev.Data[k].(string); return v }
	if m := str("message"); m != "" {
		return m
	}
	switch ev.Kind {
	case EventRecordCreated, EventRecordUpdated, EventRecordDeleted:
		op := strings.TrimPrefix(ev.Kind, "record.")
		return fmt.Sprintf("Record %s in %s", op, str("collection"))
	case EventUserRegistered:
		return "User registered"
	case EventUserLogin:
		return "User signed in"
	case EventCallStarted:
		return fmt.Sprintf("Call of %s started", str("function"))
	case EventCallFinished:
		return fmt.Sprintf("Call of %s %s", str("function"), str("status"))
	case EventScheduleFired:
		return fmt.Sprintf("Schedule %s fired", str("name"))
	case EventScheduleSkipped:
		return fmt.Sprintf("Schedule %s skipped a run", str("name"))
	case EventSettingsChanged:
		keys, _ := ev.Data["keys"].([]string)
		return "Settings changed: " + strings.Join(keys, ", ")
	case EventWorkerJoined:
		return fmt.Sprintf("Worker %s joined", ev.Subject)
	case EventWorkerLost:
		if str("reason") == "left" {
			return fmt.Sprintf("Worker %s left", ev.Subject)
		}
		return fmt.Sprintf("Worker %s lost: no heartbeat", ev.Subject)
	case EventAPIStarted:
		return "API started"
	case EventAPIStopping:
		return "API stopping"
	case EventExtensionChanged:
		return fmt.Sprintf("Extension %s %s", ev.Subject, str("action"))
	}
	return ev.Kind
}

// ActivityLogger writes entries to the activity log for extensions. Its
// Log method is what the extension host calls when an extension records
// something of its own.
type ActivityLogger struct{ log *activity.Log }

// Log appends an entry of kind "ext.<ext>.<kind>" about extension ext. It
// returns at once; the entry is written with the next batch.
func (a ActivityLogger) Log(_ context.Context, ext, kind, message string, data map[string]any) error {
	if a.log == nil {
		return activity.ErrClosed
	}
	return a.log.Append(activity.New{Kind: "ext." + ext + "." + kind, Subject: ext, Message: message,
		Data: data})
}

// activityLogger returns the adapter extensions log through.
func (s *Server) activityLogger() ActivityLogger { return ActivityLogger{log: s.activity} }

// fireEvent describes a handled schedule fire: fired with the id of the
// call it queued, or skipped (missed, late or coalesced into a later run).
func fireEvent(sc schedstore.Schedule, due time.Time, outcome schedstore.FireOutcome) Event {
	data := map[string]any{"name": sc.Name, "function": sc.FunctionName, "due": store.FormatTime(due)}
	if outcome != schedstore.Ran {
		return Event{Kind: EventScheduleSkipped, Subject: sc.ID, Data: data}
	}
	data["call_id"] = schedule.CallID(sc.ID, due)
	return Event{Kind: EventScheduleFired, Subject: sc.ID, Data: data}
}

// callStartedEvent describes a call accepted and queued for a worker.
func callStartedEvent(id string, in callInput) Event {
	data := map[string]any{"function": in.Meta.Name, "call_id": id, "trigger_type": in.TriggerType}
	if in.TriggerID != "" {
		data["trigger_id"] = in.TriggerID
	}
	return Event{Kind: EventCallStarted, ActorID: in.UserID, Subject: in.Meta.Name, Data: data}
}

// callFinishedEvent describes a call whose outcome was just recorded.
func callFinishedEvent(c calls.Call) Event {
	data := map[string]any{"function": c.FunctionName, "call_id": c.ID, "status": c.Status,
		"trigger_type": c.TriggerType}
	if c.DurationMS != nil {
		data["duration_ms"] = *c.DurationMS
	}
	if c.ErrorType != nil {
		data["error_type"] = *c.ErrorType
	}
	if c.WorkerID != nil {
		data["worker_id"] = *c.WorkerID
	}
	ev := Event{Kind: EventCallFinished, Subject: c.FunctionName, Data: data}
	if c.RequestedByUserID != nil {
		ev.ActorID = *c.RequestedByUserID
	}
	return ev
}
