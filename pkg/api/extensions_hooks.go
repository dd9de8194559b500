package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/extension"
	"github.com/tinybase/tinybase/pkg/store"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// eventHooks maps api events to the after-hooks they trigger.
var eventHooks = map[string]extv1.Hook{
	EventRecordCreated:  extv1.Hook_HOOK_RECORD_AFTER_CREATE,
	EventRecordUpdated:  extv1.Hook_HOOK_RECORD_AFTER_UPDATE,
	EventRecordDeleted:  extv1.Hook_HOOK_RECORD_AFTER_DELETE,
	EventUserRegistered: extv1.Hook_HOOK_USER_REGISTERED,
	EventUserLogin:      extv1.Hook_HOOK_USER_LOGIN,
	EventCallStarted:    extv1.Hook_HOOK_FUNCTION_CALL_STARTED,
	EventCallFinished:   extv1.Hook_HOOK_FUNCTION_CALL_FINISHED,
	EventScheduleFired:  extv1.Hook_HOOK_SCHEDULE_FIRED,
	EventAPIStarted:     extv1.Hook_HOOK_API_STARTED,
	EventAPIStopping:    extv1.Hook_HOOK_API_STOPPING,
}

// extensionQueue bounds the events waiting to be turned into after-hook
// calls; beyond it events are dropped and counted in the log.
const extensionQueue = 4096

// startExtensions runs the installed extensions: the manager, settings
// validation of ext.* keys, and the observer that forwards events to
// after-hooks. The returned function stops them; call it after HTTP has
// stopped.
func (s *Server) startExtensions(ctx context.Context, db *store.DB) (func(), error) {
	timeout := time.Duration(s.cfg.Extensions.HookTimeoutMS) * time.Millisecond
	m := extension.NewManager(extension.Options{DB: db, Dir: s.cfg.Path(s.cfg.Extensions.Dir),
		Logger: s.log, HookTimeout: timeout, Disabled: !s.cfg.Extensions.Enabled,
		Host: extension.HostDeps{Records: s.collections, Settings: s.acct.settings,
			Functions: extensionFunctions{s: s}, Activity: s.activityLogger()}})
	s.ext = m
	s.acct.settings.CheckExt(m.CheckSetting)
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("extensions: %w", err)
	}

	q := make(chan Event, extensionQueue)
	var dropped atomic.Uint64
	s.events.observe(func(ev Event) {
		h, ok := eventHooks[ev.Kind]
		if !ok || !m.Wants(h, eventCollection(ev)) {
			return
		}
		select {
		case q <- ev:
		default:
			if n := dropped.Add(1); n == 1 || n%1000 == 0 {
				s.log.Warn("extension event queue full; events dropped", "kind", ev.Kind, "dropped", n)
			}
		}
	})
	fwdCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case ev := <-q:
				s.forwardEvent(ev)
			case <-fwdCtx.Done():
				for { // deliver what is queued (api.stopping among it), then stop
					select {
					case ev := <-q:
						s.forwardEvent(ev)
					default:
						return
					}
				}
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		m.Close()
	}, nil
}

// eventCollection is the collection of a record event, "" otherwise.
func eventCollection(ev Event) string {
	if c, ok := ev.Data["collection"].(string); ok {
		return c
	}
	if strings.HasPrefix(ev.Kind, "record.") {
		c, _, _ := strings.Cut(ev.Subject, "/")
		return c
	}
	return ""
}

// forwardEvent turns an event into an after-hook call. Record events
// carry the record's data in Event.Extra; one that does not (an event from
// elsewhere) gets it read here, off the request path.
func (s *Server) forwardEvent(ev Event) {
	h := eventHooks[ev.Kind]
	req := &extv1.HookRequest{Hook: h, AtUnixMs: ev.At.UnixMilli(), Subject: ev.Subject,
		Caller: &extv1.Caller{UserId: ev.ActorID}}
	if data, err := json.Marshal(ev.Data); err == nil {
		req.EventJson = data
	}
	if strings.HasPrefix(ev.Kind, "record.") {
		req.Collection = eventCollection(ev)
		req.RecordId, _ = ev.Data["record_id"].(string)
		if req.RecordId == "" {
			_, req.RecordId, _ = strings.Cut(ev.Subject, "/")
		}
		req.OwnerId, _ = ev.Extra["owner_id"].(string)
		req.DataJson = rawOf(ev.Extra["data"])
		req.OldDataJson = rawOf(ev.Extra["old_data"])
		if req.DataJson == nil && ev.Kind != EventRecordDeleted {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rec, err := s.collections.GetRecord(ctx, req.Collection, req.RecordId)
			cancel()
			if err == nil {
				req.DataJson = rec.Data
				if rec.OwnerID != nil {
					req.OwnerId = *rec.OwnerID
				}
			}
		}
	}
	s.ext.After(req)
}

// rawOf returns v as JSON, nil for nil.
func rawOf(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return x
	case []byte:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// beforeRecord runs the before-hooks of a record write. It returns the
// data to write (as modified by extensions) or the refusal as an *Error.
// With no extension wanting the hook it costs one atomic load.
func (s *Server) beforeRecord(c *fiber.Ctx, h extv1.Hook, coll string, old *collections.Record, who caller,
	data json.RawMessage) (json.RawMessage, error) {
	if s.ext == nil || !s.ext.Wants(h, coll) {
		return data, nil
	}
	id := ""
	if old != nil {
		id = old.ID
	}
	req := &extv1.HookRequest{Hook: h, AtUnixMs: time.Now().UnixMilli(), Collection: coll, RecordId: id,
		Caller: &extv1.Caller{UserId: who.UserID, IsAdmin: who.IsAdmin}, DataJson: data, Subject: coll + "/" + id}
	if h == extv1.Hook_HOOK_RECORD_BEFORE_CREATE {
		req.OwnerId = who.UserID
		req.Subject = coll
	} else {
		rec := *old
		if rec.OwnerID != nil {
			req.OwnerId = *rec.OwnerID
		}
		if h == extv1.Hook_HOOK_RECORD_BEFORE_DELETE {
			req.DataJson = rec.Data
		} else {
			req.OldDataJson = rec.Data
		}
	}
	d := s.ext.Before(c.UserContext(), req)
	if d.Refused {
		e := newError(d.Status, "extension_refused", d.Message)
		if d.Status == 503 {
			e.Code = "extension_unavailable"
			e.Headers = map[string]string{"Retry-After": "1"}
		}
		s.log.Debug("record write refused by extension", "extension", d.Extension, "collection", coll,
			"status", d.Status)
		return nil, e
	}
	if d.Data != nil {
		if len(d.Data) == 0 || d.Data[0] != '{' || !json.Valid(d.Data) {
			return nil, newError(502, "extension_bad_answer",
				"An extension returned record data that is not a JSON object")
		}
		return d.Data, nil
	}
	return data, nil
}
