package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/functions"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// maxDirectResults bounds the results the api handles at once from
// bus.ResultDirectSubject.
const maxDirectResults = 1024

// resultWaitMargin is how long past the function timeout an HTTP caller
// waits for a result: time in the queue plus process start and kill grace.
const resultWaitMargin = 60 * time.Second

// dispatcher sends calls to workers through the bus work queue and records
// their results. A call is stored in JetStream before the HTTP handler
// waits on it, and its row is completed from the results stream by a
// durable consumer, so neither an api restart nor a worker crash loses it.
type dispatcher struct {
	conn   *bus.Conn
	calls  *calls.Calls
	issuer *auth.Issuer
	cfg    *config.Config
	log    *slog.Logger

	mu sync.Mutex
	// waiters holds the synchronous calls whose callers wait, by id.
	waiters map[string]*pendingCall
	// perWorker counts the calls handed to each worker directly and not
	// yet finished (see sendDirect).
	perWorker map[string]int
	// directInbox is the prefix of the reply subjects of direct calls.
	directInbox   string
	directReplies *nats.Subscription
	rotate        atomic.Uint64
	inFlight      atomic.Int64

	consume   jetstream.ConsumeContext
	advSub    *nats.Subscription
	directSub *nats.Subscription
	// handling counts result handlers still running; stop waits for them
	// so none touches the database after it closes.
	handling sync.WaitGroup

	// closing is closed when the api starts shutting down: callers still
	// waiting for a result are answered at once instead of holding up the
	// shutdown; their calls go on and are recorded by the next api.
	closing   chan struct{}
	closeOnce sync.Once

	gate    *userGate
	workers *workerView
	// active holds the ids of calls accepted and not yet finished; a
	// call token is honoured only while its call is here.
	active sync.Map
	// creating maps the id of a call whose row is being written to a
	// function that waits for the write; a result that arrives first
	// waits for it rather than finding no row.
	creating sync.Map
	// recorder commits outcomes in batches.
	recorder *recorder
	// startedAt is when start ran; see callActive.
	startedAt time.Time
	// finishing maps the id of a call whose caller has been answered but
	// whose outcome is still being committed to a channel closed once it
	// is; reads of the call wait on it (see awaitRecorded).
	finishing sync.Map
	// maxPerUser returns the current per-user concurrent call limit.
	maxPerUser func() int
	// timeouts, when set, gives the execution limit of a call from the
	// runtime settings; see functionTimeout.
	timeouts interface{ FunctionTimeout() time.Duration }
	// events, once set, is told when a call starts and finishes.
	events atomic.Pointer[events]
}

// functionTimeout is the execution limit of one call: the runtime setting
// core.scheduler.function_timeout_seconds, else functions.timeout_seconds.
func (d *dispatcher) functionTimeout() time.Duration {
	if d.timeouts != nil {
		if t := d.timeouts.FunctionTimeout(); t > 0 {
			return t
		}
	}
	return d.cfg.FunctionTimeout()
}

func newDispatcher(conn *bus.Conn, callLog *calls.Calls, issuer *auth.Issuer, cfg *config.Config,
	log *slog.Logger) *dispatcher {
	return &dispatcher{conn: conn, calls: callLog, issuer: issuer, cfg: cfg, log: log, recorder: newRecorder(callLog),
		waiters: make(map[string]*pendingCall), perWorker: make(map[string]int), closing: make(chan struct{}),
		gate:       newUserGate(),
		maxPerUser: func() int { return cfg.RateLimit.MaxConcurrentFunctionsPerUser }}
}

// start begins consuming results and lost-call advisories.
func (d *dispatcher) start(ctx context.Context) error {
	d.startedAt = time.Now()
	cons, err := d.conn.JS.Consumer(ctx, bus.ResultsStream, bus.APIResultsConsumer)
	if err != nil {
		return fmt.Errorf("open results consumer: %w", err)
	}
	// Results are recorded concurrently so the store's group commit can
	// batch them; the consumer's ack-pending limit bounds how many.
	d.consume, err = cons.Consume(func(msg jetstream.Msg) {
		d.handling.Add(1)
		go func() {
			defer d.handling.Done()
			d.handleResult(msg)
		}()
	})
	if err != nil {
		return fmt.Errorf("consume results: %w", err)
	}
	// At most maxDirectResults results are handled at once; past that a
	// worker is told to use the results stream, whose consumer bounds
	// its own backlog.
	directSlots := make(chan struct{}, maxDirectResults)
	d.directSub, err = d.conn.NC.Subscribe(bus.ResultDirectSubject, func(m *nats.Msg) {
		select {
		case directSlots <- struct{}{}:
		default:
			_ = m.Respond([]byte("busy"))
			return
		}
		d.handling.Add(1)
		go func() {
			defer func() {
				<-directSlots
				d.handling.Done()
			}()
			d.handleDirect(m)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribe to direct results: %w", err)
	}
	d.advSub, err = d.conn.NC.Subscribe(bus.MaxDeliverAdvisory, d.handleAbandoned)
	if err != nil {
		return fmt.Errorf("subscribe to call advisories: %w", err)
	}
	// Calls still running from before a restart keep their users' slots
	// until their outcomes arrive.
	running, err := d.calls.Running(ctx)
	if err != nil {
		return fmt.Errorf("load running calls: %w", err)
	}
	for _, c := range running {
		d.active.Store(c.ID, struct{}{})
		if c.RequestedByUserID != nil && c.TriggerType == calls.TriggerManual {
			d.gate.acquire(*c.RequestedByUserID, c.ID, 0)
		}
	}
	if err := d.startDirect(ctx); err != nil {
		return fmt.Errorf("subscribe to direct call replies: %w", err)
	}
	go d.sweepOrphans(ctx, running)
	return nil
}

// release answers every waiting caller; see closing.
func (d *dispatcher) release() { d.closeOnce.Do(func() { close(d.closing) }) }

func (d *dispatcher) stop() {
	d.release()
	if d.consume != nil {
		d.consume.Stop()
	}
	if d.advSub != nil {
		_ = d.advSub.Unsubscribe()
	}
	if d.directSub != nil {
		_ = d.directSub.Unsubscribe()
	}
	if d.directReplies != nil {
		_ = d.directReplies.Unsubscribe()
	}
	d.handling.Wait()
	d.recorder.stop()
}

type callInput struct {
	// CallID, when set, is the call's id; triggers that may be delivered
	// twice (schedule fires) derive it from their own identity.
	CallID      string
	Meta        functions.Meta
	UserID      string
	IsAdmin     bool
	Payload     []byte
	TriggerType string
	TriggerID   string
	// KeepResult stores the result with the call record (async calls).
	KeepResult bool
}

// callResponse is the reference's FunctionCallResponse.
type callResponse struct {
	CallID       string          `json:"call_id"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	ErrorMessage *string         `json:"error_message"`
	ErrorType    *string         `json:"error_type"`
	DurationMS   int64           `json:"duration_ms"`
}

// enqueue records a call and stores it in the work queue; it returns once
// both are durable, so the caller may acknowledge the call. A CallID given
// in the input is used as is, and a call already recorded under it is only
// re-published (the queue's deduplication window drops the duplicate), so
// a redelivered trigger never runs twice.
func (d *dispatcher) enqueue(ctx context.Context, in callInput) (string, error) {
	id, req, err := d.prepare(in)
	if err != nil {
		return "", err
	}
	nc := newCallOf(id, in, time.Now())
	// The row is written while the call is being queued: both take a disk
	// write, and a call's result cannot be recorded before its worker has
	// run it (a result that still finds no row is retried, see record).
	created := make(chan error, 1)
	go func() {
		_, err := d.calls.Create(ctx, nc)
		if err != nil && in.CallID != "" && errors.Is(err, calls.ErrCallExists) {
			err = nil
		}
		created <- err
	}()
	createErr := sync.OnceValue(func() error { return <-created })
	d.creating.Store(id, createErr)
	go func() {
		_ = createErr()
		d.creating.Delete(id)
	}()
	d.started(id, in)
	data, err := proto.Marshal(req)
	if err == nil {
		err = <-d.publishQueued(id, in.Meta.Name, data)
	}
	if err != nil {
		return "", d.queueFailed(id, in.Meta.Name, err, &nc, createErr)
	}
	if err := createErr(); err != nil {
		return "", fmt.Errorf("record call: %w", err)
	}
	return id, nil
}

// prepare takes the caller's concurrency slot and builds the request of a
// new call.
func (d *dispatcher) prepare(in callInput) (string, *busv1.CallRequest, error) {
	id := in.CallID
	if id == "" {
		id = uuid.NewString()
	}
	if in.UserID != "" && in.TriggerType == calls.TriggerManual {
		limit := d.maxPerUser()
		if !d.gate.acquire(in.UserID, id, limit) {
			e := newError(http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("Rate limit exceeded: maximum %d concurrent functions per user", limit))
			e.Headers = map[string]string{"Retry-After": "1"}
			return "", nil, e
		}
	}
	timeout := d.functionTimeout()
	token, err := d.issuer.IssueCallToken(in.UserID, in.IsAdmin, id, timeout+resultWaitMargin)
	if err != nil {
		d.gate.release(id)
		return "", nil, err
	}
	return id, &busv1.CallRequest{
		CallId: id, FunctionName: in.Meta.Name, Bundle: in.Meta.Bundle, Digest: in.Meta.Digest,
		PayloadJson: in.Payload,
		Context: &busv1.CallContext{ApiBaseUrl: d.cfg.APIURL(), AuthToken: token, UserId: in.UserID,
			IsAdmin: in.IsAdmin},
		TimeoutMs: timeout.Milliseconds(), TriggerType: in.TriggerType, TriggerId: in.TriggerID,
		EnqueuedAtMs: time.Now().UnixMilli(), VersionId: in.Meta.VersionID, KeepResult: in.KeepResult,
	}, nil
}

// started marks a call accepted: its token is honoured from now on.
func (d *dispatcher) started(id string, in callInput) {
	d.active.Store(id, struct{}{})
	d.events.Load().emit(callStartedEvent(id, in))
}

// newCallOf is the record of a call being accepted.
func newCallOf(id string, in callInput, at time.Time) calls.NewCall {
	nc := calls.NewCall{ID: id, FunctionName: in.Meta.Name, TriggerType: in.TriggerType, KeepResult: in.KeepResult,
		CreatedAt: at}
	if in.Meta.VersionID != "" {
		v := in.Meta.VersionID
		nc.VersionID = &v
	}
	if in.UserID != "" {
		u := in.UserID
		nc.RequestedBy = &u
	}
	if in.TriggerID != "" {
		t := in.TriggerID
		nc.TriggerID = &t
	}
	return nc
}

// publishQueued stores a call in the work queue without waiting: the
// returned channel reports the bus's acknowledgement.
func (d *dispatcher) publishQueued(id, function string, data []byte) <-chan error {
	stored := make(chan error, 1)
	fut, err := d.conn.JS.PublishAsync(bus.CallSubject(function, id), data, jetstream.WithMsgID(id))
	if err != nil {
		stored <- err
		return stored
	}
	go func() {
		select {
		case <-fut.Ok():
			stored <- nil
		case err := <-fut.Err():
			stored <- err
		case <-time.After(10 * time.Second):
			stored <- errors.New("no acknowledgement from the bus within 10s")
		}
	}()
	return stored
}

// queueFailed records a call that could not be queued and answers 503.
// createErr, when the call's row is being written, waits for that write.
func (d *dispatcher) queueFailed(id, function string, err error, origin *calls.NewCall, createErr func() error) error {
	d.forget(id)
	d.gate.release(id)
	d.active.Delete(id)
	msg, typ := "Could not queue the call: "+err.Error(), "DispatchError"
	if createErr != nil {
		_ = createErr()
	}
	now := time.Now()
	if c, applied, err := d.calls.Finish(context.Background(), id, calls.Outcome{Status: "failed",
		ErrorMessage: &msg, ErrorType: &typ, StartedAt: now, FinishedAt: now, Origin: origin}); err == nil && applied {
		d.events.Load().emit(callFinishedEvent(c))
	}
	d.log.Error("queue call failed", "call_id", id, "function", function, "error", err)
	e := newError(http.StatusServiceUnavailable, "bus_unavailable", "Function workers are unreachable; try again")
	e.Cause = err
	return e
}

// noWorkerProbe bounds how long a call that finds no live worker asks the
// roles directly before it is refused.
const noWorkerProbe = 300 * time.Millisecond

// anyWorker reports whether a worker is live: heard from recently, or
// answering a status request now.
func (d *dispatcher) anyWorker() bool {
	if d.workers == nil || len(d.workers.live()) > 0 {
		return true
	}
	return d.workers.probe(d.conn.NC, noWorkerProbe)
}

// callActive reports whether a call token for the call, issued at
// issued, still acts: the call is accepted and not yet finished. A call
// an earlier api accepted but never wrote down (it was younger than
// runningRowDelay when that api stopped) is taken as running when its
// token predates this api and no record of it exists: every call that
// ends is recorded.
func (d *dispatcher) callActive(ctx context.Context, id string, issued time.Time) bool {
	if _, ok := d.active.Load(id); ok {
		return true
	}
	if issued.IsZero() || !issued.Before(d.startedAt) {
		return false
	}
	_, err := d.calls.Get(ctx, id)
	return errors.Is(err, calls.ErrCallNotFound)
}

// forget drops the waiter of a call.
func (d *dispatcher) forget(id string) {
	d.mu.Lock()
	if p := d.waiters[id]; p != nil {
		p.row.Stop()
		d.leftWorkerLocked(p)
		delete(d.waiters, id)
	}
	d.mu.Unlock()
}

// runningRowDelay is how long a synchronous call runs before its record
// is written as running. A call that finishes sooner is recorded once,
// with its outcome: one commit instead of two on the path of every
// short call. Until then the call exists only in this process and on
// the bus; if the api dies meanwhile, its caller gets no answer, and the
// worker's result, which carries the call's origin, is recorded by the
// next api.
const runningRowDelay = 200 * time.Millisecond

// call runs one function call and waits for its outcome. It is handed
// straight to a worker with a free slot when there is one, else stored in
// the work queue.
func (d *dispatcher) call(ctx context.Context, in callInput) (*callResponse, error) {
	d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	id, req, err := d.prepare(in)
	if err != nil {
		return nil, err
	}
	data, err := proto.Marshal(req)
	if err != nil {
		d.gate.release(id)
		return nil, err
	}
	p := &pendingCall{origin: newCallOf(id, in, time.Now()), function: in.Meta.Name,
		request: data, result: make(chan *busv1.CallResult, 1)}
	p.row = time.AfterFunc(runningRowDelay, func() { d.writeRunning(id, p) })
	d.mu.Lock()
	d.waiters[id] = p
	d.mu.Unlock()
	defer d.forget(id)
	d.started(id, in)

	var stored <-chan error
	if !d.sendDirect(id, p) {
		stored = d.publishQueued(id, in.Meta.Name, data)
	}
	wait := time.NewTimer(d.functionTimeout() + resultWaitMargin)
	defer wait.Stop()
	for {
		select {
		case r := <-p.result:
			return responseOf(r), nil
		case err := <-stored:
			if err != nil {
				return nil, d.queueFailed(id, in.Meta.Name, err, &p.origin, nil)
			}
			stored = nil
		case <-d.closing:
			e := newError(http.StatusServiceUnavailable, "shutting_down",
				fmt.Sprintf("The server is restarting; function call '%s' continues and will be recorded", id))
			e.Headers = map[string]string{"Retry-After": "5"}
			e.CallID = id
			return nil, e
		case <-wait.C:
			e := newError(http.StatusGatewayTimeout, "call_pending",
				fmt.Sprintf("Function call '%s' did not finish in time; it stays recorded and may still complete", id))
			e.CallID = id
			return nil, e
		}
	}
}

// pendingCall is a synchronous call waiting for its result.
type pendingCall struct {
	origin   calls.NewCall
	function string
	request  []byte // the encoded CallRequest, to queue it if its worker is lost
	result   chan *busv1.CallResult
	// row writes the running record once the call has taken
	// runningRowDelay; stopped by the result.
	row *time.Timer

	// Guarded by dispatcher.mu.
	requeued      bool      // queued after its worker was lost, see dropQueued
	worker        string    // the worker it was handed to; "" once queued
	workerStarted string    // that worker's RoleStatus.StartedAt
	sentAt        time.Time // when it was handed to worker
}

// writeRunning records a call still running after runningRowDelay.
func (d *dispatcher) writeRunning(id string, p *pendingCall) {
	nc := p.origin
	d.mu.Lock()
	if p.worker != "" {
		w := p.worker
		nc.WorkerID = &w
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.calls.Create(ctx, nc); err != nil && !errors.Is(err, calls.ErrCallExists) {
		d.log.Error("record running call failed", "call_id", id, "error", err)
	}
}

func responseOf(r *busv1.CallResult) *callResponse {
	out := &callResponse{CallID: r.CallId, Status: r.Status, DurationMS: r.DurationMs,
		Result: json.RawMessage("null")}
	if r.Status == "succeeded" && len(r.ResultJson) > 0 {
		out.Result = r.ResultJson
	}
	if r.ErrorMessage != "" {
		m := r.ErrorMessage
		out.ErrorMessage = &m
	}
	if r.ErrorType != "" {
		t := r.ErrorType
		out.ErrorType = &t
	}
	return out
}

// deliver answers the HTTP caller waiting for a result, if any, then
// records it. The caller is answered as soon as the call's row exists:
// the outcome is already held by the bus (the worker keeps the call
// unacknowledged until deliver returns, or the results stream keeps it
// until it is recorded), so an api that dies before the commit records
// it after its restart. Reads of the call wait for the commit
// (awaitRecorded), so a client never sees it running after its answer.
func (d *dispatcher) deliver(r *busv1.CallResult) error {
	var createErr error
	if wait, ok := d.creating.Load(r.CallId); ok {
		createErr = wait.(func() error)()
	}
	done := make(chan struct{})
	d.finishing.Store(r.CallId, done)
	defer func() {
		d.finishing.CompareAndDelete(r.CallId, done)
		close(done)
	}()
	origin := originOf(r)
	requeued, function := false, ""
	d.mu.Lock()
	if p := d.waiters[r.CallId]; p != nil {
		p.row.Stop()
		d.leftWorkerLocked(p)
		if origin == nil {
			origin = &p.origin
		}
		requeued, function = p.requeued, p.function
	}
	d.mu.Unlock()
	if createErr == nil {
		d.finishWaiting(r)
	}
	err := d.record(r, origin)
	// The first attempt finished after all: its queued copy must not run.
	// (A result of the copy itself has a later attempt; its worker
	// acknowledges it.)
	if err == nil && requeued && r.Attempt <= 1 {
		go d.dropQueued(function, r.CallId)
	}
	return err
}

// originOf is the origin a worker echoed in the result, if any.
func originOf(r *busv1.CallResult) *calls.NewCall {
	o := r.GetOrigin()
	if o == nil || o.FunctionName == "" {
		return nil
	}
	nc := &calls.NewCall{ID: r.CallId, FunctionName: o.FunctionName, TriggerType: o.TriggerType,
		KeepResult: o.KeepResult}
	if o.EnqueuedAtMs > 0 {
		nc.CreatedAt = time.UnixMilli(o.EnqueuedAtMs)
	}
	if o.TriggerId != "" {
		nc.TriggerID = &o.TriggerId
	}
	if o.UserId != "" {
		nc.RequestedBy = &o.UserId
	}
	if o.VersionId != "" {
		nc.VersionID = &o.VersionId
	}
	return nc
}

// handleDirect takes a result a worker sends straight to the api and
// replies once it is committed; any other reply makes the worker store
// the result in the results stream instead.
func (d *dispatcher) handleDirect(m *nats.Msg) {
	var r busv1.CallResult
	if err := proto.Unmarshal(m.Data, &r); err != nil {
		_ = m.Respond([]byte("undecodable"))
		return
	}
	if err := d.deliver(&r); err != nil {
		_ = m.Respond([]byte(err.Error()))
		return
	}
	_ = m.Respond([]byte(bus.ResultRecorded))
}

// handleResult records a result from the results stream. The message is
// acknowledged only after the row is committed.
func (d *dispatcher) handleResult(msg jetstream.Msg) {
	var r busv1.CallResult
	if err := proto.Unmarshal(msg.Data(), &r); err != nil {
		d.log.Error("drop undecodable call result", "error", err)
		_ = msg.Term()
		return
	}
	if err := d.deliver(&r); err != nil {
		if errors.Is(err, calls.ErrCallNotFound) {
			// The row may still be on its way (it is written while the
			// call is queued); give up only after several tries.
			if md, mdErr := msg.Metadata(); mdErr == nil && md.NumDelivered >= 5 {
				d.log.Error("dropping result of an unrecorded call", "call_id", r.CallId)
				d.finishWaiting(&r)
				_ = msg.Term()
				return
			}
			_ = msg.NakWithDelay(50 * time.Millisecond)
			return
		}
		d.log.Error("record call result failed; will retry", "call_id", r.CallId, "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// awaitRecorded waits, up to ctx's end, until the outcomes of the given
// calls whose callers were already answered are committed, and reports
// whether there was any to wait for.
func (d *dispatcher) awaitRecorded(ctx context.Context, ids ...string) bool {
	if d == nil {
		return false
	}
	var pending []chan struct{}
	for _, id := range ids {
		if ch, ok := d.finishing.Load(id); ok {
			pending = append(pending, ch.(chan struct{}))
		}
	}
	if len(pending) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, ch := range pending {
		select {
		case <-ch:
		case <-ctx.Done():
			return true
		}
	}
	return true
}

// record commits a call's outcome; origin, when known, lets a call whose
// record was never written be recorded at once.
func (d *dispatcher) record(r *busv1.CallResult, origin *calls.NewCall) error {
	o := calls.Outcome{Status: r.Status, DurationMS: r.DurationMs, WorkerID: r.WorkerId,
		Attempts: int(r.Attempt), StartedAt: time.UnixMilli(r.StartedAtMs),
		FinishedAt: time.UnixMilli(r.FinishedAtMs), Stderr: r.Stderr, Result: r.ResultJson, Origin: origin}
	if r.ErrorMessage != "" {
		m := r.ErrorMessage
		o.ErrorMessage = &m
	}
	if r.ErrorType != "" {
		t := r.ErrorType
		o.ErrorType = &t
	}
	f := d.recorder.commit(r.CallId, o)
	if f.Err == nil && f.Applied {
		d.events.Load().emit(callFinishedEvent(f.Call))
	}
	return f.Err
}

// finishWaiting frees the call's user slot and token and wakes its caller.
func (d *dispatcher) finishWaiting(r *busv1.CallResult) {
	d.gate.release(r.CallId)
	d.active.Delete(r.CallId)
	d.notify(r)
}

func (d *dispatcher) notify(r *busv1.CallResult) {
	d.mu.Lock()
	p := d.waiters[r.CallId]
	d.mu.Unlock()
	if p != nil {
		select {
		case p.result <- r:
		default:
		}
	}
}

// handleAbandoned records as failed a call that used up its delivery
// attempts without any worker reporting a result, and removes it from the
// queue, so no call stays "running" forever.
func (d *dispatcher) handleAbandoned(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := d.conn.JS.Stream(ctx, bus.CallsStream)
	if err != nil {
		d.log.Error("open call queue for abandoned call failed", "error", err)
		return
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		d.log.Warn("abandoned call not found in queue", "seq", adv.StreamSeq, "error", err)
		return
	}
	var req busv1.CallRequest
	if err := proto.Unmarshal(raw.Data, &req); err != nil {
		return
	}
	now := time.Now()
	r := &busv1.CallResult{CallId: req.CallId, Status: "failed", ErrorType: "WorkerLost",
		ErrorMessage: fmt.Sprintf("No worker finished the call after %d attempts", adv.Deliveries),
		StartedAtMs:  now.UnixMilli(), FinishedAtMs: now.UnixMilli(), Attempt: int32(adv.Deliveries)}
	origin := originOf(&busv1.CallResult{CallId: req.CallId, Origin: bus.OriginOf(&req)})
	if err := d.record(r, origin); err != nil {
		d.log.Error("record abandoned call failed", "call_id", req.CallId, "error", err)
		return
	}
	_ = stream.DeleteMsg(ctx, adv.StreamSeq)
	d.gate.release(req.CallId)
	d.active.Delete(req.CallId)
	d.log.Warn("call abandoned by workers", "call_id", req.CallId, "function", req.FunctionName,
		"attempts", adv.Deliveries)
	d.notify(r)
}
