package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/runner"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// handleCall runs one call and publishes its result before acknowledging
// it, so a worker that dies at any point leaves the call in the queue for
// another worker (or, after the last attempt, for the api to record as
// lost).
func (w *Worker) handleCall(runCtx context.Context, msg jetstream.Msg) {
	w.inFlight.Add(1)
	// done ends the call's bookkeeping; it runs here unless the result's
	// delivery takes it over.
	var stopProgress context.CancelFunc = func() {}
	done := func() {
		stopProgress()
		w.inFlight.Add(-1)
	}
	defer func() {
		if done != nil {
			done()
		}
	}()

	var req busv1.CallRequest
	if err := proto.Unmarshal(msg.Data(), &req); err != nil {
		w.log.Error("drop undecodable call", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	attempt += int(req.PriorAttempts)
	log := w.log.With("call_id", req.CallId, "function", req.FunctionName, "attempt", attempt)

	progressCtx, cancelProgress := context.WithCancel(context.Background())
	stopProgress = cancelProgress
	go keepInProgress(progressCtx, msg)

	started := time.Now()
	res := w.run(runCtx, &req)
	if runCtx.Err() != nil {
		// Stopped by drain: hand the call back rather than report a failure.
		stopProgress()
		_ = msg.Nak()
		log.Info("call handed back to the queue")
		return
	}
	out := resultOf(&req, res, started, w.id, attempt)
	data, err := proto.Marshal(out)
	if err != nil {
		log.Error("encode result failed", "error", err)
		_ = msg.Nak()
		return
	}
	// The result is delivered while this slot takes its next call: the
	// delivery waits for the api to commit it, which is disk time, not
	// this worker's.
	finish := done
	done = nil
	w.deliveries.Add(1)
	go func() {
		defer w.deliveries.Done()
		defer finish()
		if err := w.deliver(out, data); err != nil {
			log.Error("publish result failed; call will be retried", "error", err)
			_ = msg.Nak()
			return
		}
		ackCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := msg.DoubleAck(ackCtx); err != nil {
			log.Warn("ack call failed", "error", err)
		}
		log.Debug("call finished", "status", out.Status, "duration_ms", out.DurationMs)
	}()
}

// resultOf is the result of a call that ran from started until now.
func resultOf(req *busv1.CallRequest, res runner.Result, started time.Time, workerID string,
	attempt int) *busv1.CallResult {
	finished := time.Now()
	return &busv1.CallResult{
		CallId:       req.CallId,
		Status:       res.Status,
		ResultJson:   res.Result,
		ErrorMessage: res.ErrorMessage,
		ErrorType:    res.ErrorType,
		DurationMs:   finished.Sub(started).Milliseconds(),
		WorkerId:     workerID,
		StartedAtMs:  started.UnixMilli(),
		FinishedAtMs: finished.UnixMilli(),
		Stderr:       res.Stderr,
		Attempt:      int32(attempt),
		Origin:       bus.OriginOf(req),
	}
}

// onDirect takes a call the api sent to this worker alone, if a slot is
// free; otherwise it answers busy and the api queues the call.
func (w *Worker) onDirect(runCtx context.Context, m *nats.Msg) {
	var req busv1.CallRequest
	if err := proto.Unmarshal(m.Data, &req); err != nil || req.CallId == "" {
		w.log.Error("drop undecodable direct call", "error", err)
		return
	}
	if w.draining.Load() || !w.slots.tryTake() {
		_ = m.Respond([]byte(bus.DirectBusy))
		return
	}
	w.inFlight.Add(1)
	w.held.Store(req.CallId, struct{}{})
	w.directRuns.Add(1)
	go func() {
		defer w.directRuns.Done()
		w.runDirect(runCtx, &req)
	}()
}

// runDirect runs a direct call in the slot onDirect took. Nothing holds
// the call but this worker and the api waiting for it: the api queues it
// for another worker if this one goes silent or stops listing it in its
// heartbeat, and a drain that runs out of time hands it to the queue
// itself.
func (w *Worker) runDirect(runCtx context.Context, req *busv1.CallRequest) {
	done := func() {
		w.held.Delete(req.CallId)
		w.inFlight.Add(-1)
	}
	log := w.log.With("call_id", req.CallId, "function", req.FunctionName)
	started := time.Now()
	res := w.run(runCtx, req)
	w.slots.release()
	if runCtx.Err() != nil {
		w.handBack(req, log)
		done()
		return
	}
	out := resultOf(req, res, started, w.id, int(req.PriorAttempts)+1)
	enc, err := proto.Marshal(out)
	if err != nil {
		done()
		log.Error("encode result failed", "error", err)
		return
	}
	w.deliveries.Add(1)
	go func() {
		defer w.deliveries.Done()
		defer done()
		// The call exists nowhere else: keep trying while the bus is
		// unreachable, for about a minute.
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
			err := w.deliver(out, enc)
			if err == nil {
				log.Debug("call finished", "status", out.Status, "duration_ms", out.DurationMs)
				return
			}
			if time.Since(started) > time.Duration(req.TimeoutMs)*time.Millisecond+time.Minute {
				log.Error("result of a direct call lost: the bus stayed unreachable", "error", err)
				return
			}
			time.Sleep(wait)
		}
	}()
}

// heldCalls lists the direct calls this worker has taken and not yet
// delivered, for its heartbeat.
func (w *Worker) heldCalls() []string {
	var ids []string
	w.held.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return true
	})
	return ids
}

// handBack stores a direct call the drain stopped in the work queue, so
// another worker runs it and the api, still waiting, gets its result.
func (w *Worker) handBack(req *busv1.CallRequest, log *slog.Logger) {
	req.PriorAttempts++
	data, err := proto.Marshal(req)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = w.conn.JS.Publish(ctx, bus.CallSubject(req.FunctionName, req.CallId), data,
			jetstream.WithMsgID(req.CallId))
		cancel()
	}
	if err != nil {
		log.Error("hand direct call back failed; the api queues it when this worker is gone", "error", err)
		return
	}
	log.Info("call handed back to the queue")
}

// deliver hands a result to the api. The fast path asks the api directly,
// which answers the caller and replies once the outcome is committed; if
// it does not reply, the result goes to the results stream, which the api
// drains whenever it runs. An error means it is stored nowhere.
func (w *Worker) deliver(out *busv1.CallResult, data []byte) error {
	reply, err := w.conn.NC.Request(bus.ResultDirectSubject, data, bus.ResultDirectTimeout)
	if err == nil && string(reply.Data) == bus.ResultRecorded {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = w.conn.JS.Publish(ctx, bus.ResultSubjectPrefix+out.CallId, data,
		jetstream.WithMsgID(fmt.Sprintf("%s-result", out.CallId)))
	return err
}

func (w *Worker) run(ctx context.Context, req *busv1.CallRequest) runner.Result {
	path, err := w.bundles.get(ctx, req.Bundle, req.Digest)
	if err != nil {
		return runner.Result{Status: "failed", ErrorType: "BundleError",
			ErrorMessage: fmt.Sprintf("fetch function bundle: %v", err)}
	}
	var userID *string
	if c := req.GetContext(); c != nil && c.UserId != "" {
		id := c.UserId
		userID = &id
	}
	payload := json.RawMessage(req.PayloadJson)
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	return w.runner.Call(ctx, runner.Function{Name: req.FunctionName, Path: path, Digest: req.Digest},
		runner.Request{
			ID: req.CallId,
			Context: runner.CallContext{
				APIBaseURL:   req.GetContext().GetApiBaseUrl(),
				AuthToken:    req.GetContext().GetAuthToken(),
				UserID:       userID,
				IsAdmin:      req.GetContext().GetIsAdmin(),
				RequestID:    req.CallId,
				FunctionName: req.FunctionName,
			},
			Payload: payload,
			Timeout: time.Duration(req.TimeoutMs) * time.Millisecond,
		})
}
