package collections

import (
	"encoding/json"
	"sync/atomic"
)

// TODO(events): a JetStream stream for record events, so that subscribers
// (realtime, extensions, the activity log) can catch up after a disconnect.

// Publisher sends record events. Subjects are relative: "<collection>.<op>";
// the transport adds its prefix (tb.events.records. on the bus). Publish is
// called on the database writer goroutine right after the commit, so that
// events come out in commit order: it must not block (queue, or drop and
// return an error, which is logged).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Record event operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Causes of writes that a client did not ask for directly.
const (
	// CauseCascade marks a record deleted because a record it referred to
	// was deleted, under on_delete cascade.
	CauseCascade = "cascade"
	// CauseSetNull marks a record updated because a record it referred to
	// was deleted, under on_delete set_null.
	CauseSetNull = "set_null"
)

// Event is the payload of a record event: the record after a create or
// update, and as it was for a delete.
type Event struct {
	Op         string `json:"op"`
	Collection string `json:"collection"`
	Record     Record `json:"record"`
	// Cause is empty for the write a client asked for, else CauseCascade or
	// CauseSetNull.
	Cause string `json:"cause,omitempty"`
	// At is when the write committed, in the storage time format.
	At string `json:"at"`
}

// Subject returns the event's relative subject, "<collection>.<op>".
func (e Event) Subject() string { return e.Collection + "." + e.Op }

// publisherBox holds the Publisher; it is set once at start-up but read by
// the writer goroutine, hence atomic.
type publisherBox struct{ p atomic.Pointer[Publisher] }

// SetPublisher makes the service publish an Event for every committed
// record write. Without one, nothing is published.
func (s *Service) SetPublisher(p Publisher) {
	if p == nil {
		s.pub.p.Store(nil)
		return
	}
	s.pub.p.Store(&p)
}

// publish sends events; it runs after the commit and never fails the write.
func (s *Service) publish(events []Event) {
	pp := s.pub.p.Load()
	if pp == nil || len(events) == 0 {
		return
	}
	for _, e := range events {
		data, err := json.Marshal(e)
		if err == nil {
			err = (*pp).Publish(e.Subject(), data)
		}
		if err != nil {
			s.eventErrors.Add(1)
			s.logEventError(e, err)
		}
	}
}

// logEventError logs failed publishes, at most one line per 1000 failures
// after the first, so that a bus outage cannot flood the log.
func (s *Service) logEventError(e Event, err error) {
	if n := s.eventErrors.Load(); n == 1 || n%1000 == 0 {
		s.log.Warn("publish record event", "collection", e.Collection, "op", e.Op, "record", e.Record.ID,
			"failures", n, "error", err)
	}
}
