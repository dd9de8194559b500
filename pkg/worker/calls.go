package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

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
	log := w.log.With("call_id", req.CallId, "function", req.FunctionName, "attempt", attempt)

	// Tell JetStream the call is alive while it runs; a silent worker's
	// calls are redelivered after bus.CallAckWait.
	progressCtx, cancelProgress := context.WithCancel(context.Background())
	stopProgress = cancelProgress
	go func() {
		t := time.NewTicker(bus.CallProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-progressCtx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()

	started := time.Now()
	res := w.run(runCtx, &req)
	if runCtx.Err() != nil {
		// Stopped by drain: hand the call back rather than report a failure.
		stopProgress()
		_ = msg.Nak()
		log.Info("call handed back to the queue")
		return
	}
	finished := time.Now()
	out := &busv1.CallResult{
		CallId:       req.CallId,
		Status:       res.Status,
		ResultJson:   res.Result,
		ErrorMessage: res.ErrorMessage,
		ErrorType:    res.ErrorType,
		DurationMs:   finished.Sub(started).Milliseconds(),
		WorkerId:     w.id,
		StartedAtMs:  started.UnixMilli(),
		FinishedAtMs: finished.UnixMilli(),
		Stderr:       res.Stderr,
		Attempt:      int32(attempt),
	}
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
		w.deliver(msg, out, data, log)
	}()
}

// deliver hands a result to the api and then acknowledges the call. The
// fast path asks the api directly, which answers the caller and replies
// once the outcome is committed; if it does not reply, the result goes to
// the results stream, which the api drains whenever it runs. Either way
// the call stays in the queue until its result is stored somewhere.
func (w *Worker) deliver(msg jetstream.Msg, out *busv1.CallResult, data []byte, log *slog.Logger) {
	reply, err := w.conn.NC.Request(bus.ResultDirectSubject, data, bus.ResultDirectTimeout)
	if err != nil || string(reply.Data) != bus.ResultRecorded {
		pubCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := w.conn.JS.Publish(pubCtx, bus.ResultSubjectPrefix+out.CallId, data,
			jetstream.WithMsgID(fmt.Sprintf("%s-result", out.CallId))); err != nil {
			log.Error("publish result failed; call will be retried", "error", err)
			_ = msg.Nak()
			return
		}
	}
	ackCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(ackCtx); err != nil {
		log.Warn("ack call failed", "error", err)
	}
	log.Debug("call finished", "status", out.Status, "duration_ms", out.DurationMs)
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
