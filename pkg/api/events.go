package api

import (
	"strings"
	"sync"
	"time"
)

// Event kinds the api emits. Observers (the activity log, extension
// after-hooks) subscribe to all of them and pick what they need.
const (
	EventRecordCreated    = "record.created"
	EventRecordUpdated    = "record.updated"
	EventRecordDeleted    = "record.deleted"
	EventUserRegistered   = "user.registered"
	EventUserLogin        = "user.login"
	EventCallStarted      = "function.call_started"
	EventCallFinished     = "function.call_finished"
	EventScheduleFired    = "schedule.fired"
	EventScheduleSkipped  = "schedule.skipped"
	EventSettingsChanged  = "settings.changed"
	EventWorkerJoined     = "worker.joined"
	EventWorkerLost       = "worker.lost"
	EventAPIStarted       = "api.started"
	EventAPIStopping      = "api.stopping"
	EventExtensionChanged = "extension.changed"
)

// Event is something that happened in the api, told to observers after
// the fact. Data holds the event's fields as JSON-ready values.
type Event struct {
	Kind    string
	At      time.Time
	ActorID string // user id of whoever caused it, "" for the system
	Subject string // what it happened to: "<collection>/<id>", a function name, …
	Data    map[string]any
	// Extra holds values some observers need but the activity log does
	// not keep, such as a record's data: record events carry "data",
	// "old_data" and "owner_id" here for extension after-hooks.
	Extra map[string]any
}

// Observer receives events. It must not block: slow work goes to its own
// goroutine or queue.
type Observer func(Event)

// events fans events out to observers registered at start-up.
type events struct {
	mu        sync.RWMutex
	observers []Observer
}

// observe adds an observer; call it before serving.
func (e *events) observe(o Observer) {
	e.mu.Lock()
	e.observers = append(e.observers, o)
	e.mu.Unlock()
}

// emit tells every observer about ev, stamping its time when unset.
func (e *events) emit(ev Event) {
	if e == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	// Observers keep events past the request, but strings fiber hands a
	// handler (route parameters, headers) point into a buffer it reuses
	// for the next request: copy them.
	ev.ActorID, ev.Subject = strings.Clone(ev.ActorID), strings.Clone(ev.Subject)
	cloneStrings(ev.Data)
	cloneStrings(ev.Extra)
	e.mu.RLock()
	obs := e.observers
	e.mu.RUnlock()
	for _, o := range obs {
		o(ev)
	}
}

// cloneStrings replaces the string values of m with copies.
func cloneStrings(m map[string]any) {
	for k, v := range m {
		if s, ok := v.(string); ok {
			m[k] = strings.Clone(s)
		}
	}
}
