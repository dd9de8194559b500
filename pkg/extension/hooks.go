package extension

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// Hook names as they appear in manifests, the list API and the docs.
var hookNames = map[extv1.Hook]string{
	extv1.Hook_HOOK_RECORD_BEFORE_CREATE:   "record.before_create",
	extv1.Hook_HOOK_RECORD_BEFORE_UPDATE:   "record.before_update",
	extv1.Hook_HOOK_RECORD_BEFORE_DELETE:   "record.before_delete",
	extv1.Hook_HOOK_RECORD_AFTER_CREATE:    "record.after_create",
	extv1.Hook_HOOK_RECORD_AFTER_UPDATE:    "record.after_update",
	extv1.Hook_HOOK_RECORD_AFTER_DELETE:    "record.after_delete",
	extv1.Hook_HOOK_USER_REGISTERED:        "user.registered",
	extv1.Hook_HOOK_USER_LOGIN:             "user.login",
	extv1.Hook_HOOK_FUNCTION_CALL_STARTED:  "function.call_started",
	extv1.Hook_HOOK_FUNCTION_CALL_FINISHED: "function.call_finished",
	extv1.Hook_HOOK_SCHEDULE_FIRED:         "schedule.fired",
	extv1.Hook_HOOK_API_STARTED:            "api.started",
	extv1.Hook_HOOK_API_STOPPING:           "api.stopping",
}

// HookName is the manifest name of h ("" for an unknown hook).
func HookName(h extv1.Hook) string { return hookNames[h] }

func hookByName(name string) (extv1.Hook, bool) {
	for h, n := range hookNames {
		if n == name {
			return h, true
		}
	}
	return 0, false
}

// IsBefore reports whether h runs while the request waits.
func IsBefore(h extv1.Hook) bool {
	return h == extv1.Hook_HOOK_RECORD_BEFORE_CREATE || h == extv1.Hook_HOOK_RECORD_BEFORE_UPDATE ||
		h == extv1.Hook_HOOK_RECORD_BEFORE_DELETE
}

const numHooks = int(extv1.Hook_HOOK_API_STOPPING) + 1

// hookTable routes each hook to the running extensions that want it, in
// call order (by extension name).
type hookTable struct {
	by [numHooks][]target
}

type target struct {
	run         *running
	collections []string
}

func (t target) wants(collection string) bool {
	return len(t.collections) == 0 || collection == "" || slices.Contains(t.collections, collection)
}

func buildTable(runs []*running) *hookTable {
	t := &hookTable{}
	for _, r := range runs {
		for _, sub := range r.row.Manifest.Hooks {
			h, ok := hookByName(sub.Hook)
			if !ok {
				continue
			}
			t.by[h] = append(t.by[h], target{run: r, collections: sub.Collections})
		}
	}
	return t
}

// Wants reports whether any running extension wants h for collection
// ("" for non-record hooks). It is one atomic load and a slice scan, so
// the api calls it on every request and skips all hook work when false.
func (m *Manager) Wants(h extv1.Hook, collection string) bool {
	if int(h) <= 0 || int(h) >= numHooks {
		return false
	}
	for _, t := range m.table.Load().by[h] {
		if t.wants(collection) {
			return true
		}
	}
	return false
}

// Decision is the outcome of the before-hooks of one operation.
type Decision struct {
	// Refused: the operation must not happen; Status and Message are for
	// the client, Extension names who refused.
	Refused   bool
	Status    int
	Message   string
	Extension string
	// Data replaces the request's data when non-nil (create and update).
	Data []byte
}

// Before runs a before-hook in every extension that wants it, in name
// order, each seeing the data as modified by those before it. The first
// refusal ends the chain. An extension that fails (error, timeout, not
// running) refuses with 503 under PolicyClosed and is skipped under
// PolicyOpen.
func (m *Manager) Before(ctx context.Context, req *extv1.HookRequest) Decision {
	var d Decision
	targets := m.table.Load().by[req.Hook]
	if len(targets) == 0 {
		return d
	}
	req.SettingsVersion = m.settingsVersion()
	for _, t := range targets {
		if !t.wants(req.Collection) {
			continue
		}
		resp, err := m.call(ctx, t.run, req)
		if err != nil {
			t.run.proc.logFailure(HookName(req.Hook), err)
			if t.run.policy.Load() == PolicyOpen {
				continue
			}
			return Decision{Refused: true, Status: 503, Extension: t.run.row.Name,
				Message: fmt.Sprintf("Extension '%s' is unavailable; try again", t.run.row.Name)}
		}
		if resp.Refuse {
			st := int(resp.Status)
			if st < 400 || st > 499 {
				st = 400
			}
			msg := resp.Message
			if msg == "" {
				msg = fmt.Sprintf("Refused by extension '%s'", t.run.row.Name)
			}
			return Decision{Refused: true, Status: st, Message: msg, Extension: t.run.row.Name}
		}
		if len(resp.DataJson) > 0 && req.Hook != extv1.Hook_HOOK_RECORD_BEFORE_DELETE {
			req.DataJson = resp.DataJson
			d.Data = resp.DataJson
		}
	}
	return d
}

// call makes one hook call under the hook timeout.
func (m *Manager) call(ctx context.Context, r *running, req *extv1.HookRequest) (*extv1.HookResponse, error) {
	c, err := r.proc.conn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.HookTimeout)
	defer cancel()
	resp, err := c.Hook(ctx, req)
	if err != nil {
		if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable {
			r.proc.nudge()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("hook timed out after %s", m.opts.HookTimeout)
		}
		return nil, err
	}
	return resp, nil
}

// After queues an after-hook for every extension that wants it and
// returns at once. Each extension has its own queue and worker, so a slow
// one delays only itself; when its queue is full the event is dropped
// and logged.
func (m *Manager) After(req *extv1.HookRequest) {
	targets := m.table.Load().by[req.Hook]
	if len(targets) == 0 {
		return
	}
	req.SettingsVersion = m.settingsVersion()
	for _, t := range targets {
		if !t.wants(req.Collection) {
			continue
		}
		if !t.run.enqueue(req) {
			t.run.proc.logDrop(HookName(req.Hook))
		}
	}
}

// enqueue adds req to the after-hook queue unless it is full or closed.
func (r *running) enqueue(req *extv1.HookRequest) (ok bool) {
	defer func() {
		if recover() != nil { // queue closed by a concurrent disable
			ok = true
		}
	}()
	select {
	case r.queue <- req:
		return true
	default:
		return false
	}
}

// drain delivers queued after-hooks until the queue is closed.
func (m *Manager) drain(r *running) {
	defer close(r.done)
	// Events queued while the process starts (api.started among them)
	// wait for the first start instead of failing at once.
	select {
	case <-r.proc.started:
	case <-r.proc.stopCh:
	}
	for req := range r.queue {
		if _, err := m.call(context.Background(), r, req); err != nil {
			r.proc.logFailure(HookName(req.Hook), err)
		}
	}
}

// failureLog rate-limits the log lines of failing hooks: one a second
// per extension, with the count of those left out.
type failureLog struct {
	every   rate.Sometimes
	skipped int
}

func (p *proc) logFailure(hook string, err error) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	logged := false
	p.fails.every.Do(func() {
		logged = true
		p.log.Warn("extension hook failed", "hook", hook, "error", err, "not_logged_since", p.fails.skipped)
		p.fails.skipped = 0
	})
	if !logged {
		p.fails.skipped++
	}
}

func (p *proc) logDrop(hook string) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	logged := false
	p.drops.every.Do(func() {
		logged = true
		p.log.Warn("extension after-hook queue full; event dropped", "hook", hook,
			"dropped_since", p.drops.skipped)
		p.drops.skipped = 0
	})
	if !logged {
		p.drops.skipped++
	}
}
