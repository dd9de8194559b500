package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/store"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// busClient connects to the test's bus as a role named name would.
func busClient(t *testing.T, env *testenv.Env, name string) *bus.Conn {
	t.Helper()
	user, pass := env.Config.BusCredentials()
	conn, err := bus.Connect(context.Background(), bus.ConnectOptions{URL: env.Config.BusURL(), User: user,
		Password: pass, Name: name, Logger: testenv.Logger(t, name)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// withSlow starts an api and worker w1 serving the slow function, and
// returns the api's base URL and an admin token.
func withSlow(t *testing.T, env *testenv.Env) (string, string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(env.Config.FunctionsDir(), "slow.py"), []byte(slowPy), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "slow")
	return base, login(t, base)
}

// TestBusyWorkerHandsDirectCallToQueue fills the only slot of the only
// worker with a queued (async) call the api does not count, so the next
// synchronous call is sent to a worker that answers busy; it must still run,
// from the queue, once the slot frees.
func TestBusyWorkerHandsDirectCallToQueue(t *testing.T) {
	env := testenv.New(t)
	env.Config.Worker.Concurrency = 1
	base, token := withSlow(t, env)
	if code, out := post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 0}); code != 200 {
		t.Fatalf("warm-up call: %d %v", code, out)
	}

	code, out := post(t, base+"/api/functions/slow?async=true", "", map[string]any{"seconds": 2})
	if code != 202 {
		t.Fatalf("async call: %d %v", code, out)
	}
	asyncID := out["call_id"].(string)
	testenv.WaitFor(t, 10*time.Second, "async call running on w1", func() error {
		var ws struct {
			Workers []struct {
				InFlight int `json:"in_flight"`
			} `json:"workers"`
		}
		get(t, base+"/api/admin/workers", token, &ws)
		if len(ws.Workers) != 1 || ws.Workers[0].InFlight != 1 {
			return fmt.Errorf("workers: %+v", ws)
		}
		return nil
	})
	start := time.Now()
	code, out = post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 0})
	if code != 200 || out["status"] != "succeeded" {
		t.Fatalf("call while the slot was busy: %d %v", code, out)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("call answered after %s: it cannot have waited for the busy slot", waited)
	}
	var call map[string]any
	get(t, base+"/api/admin/functions/calls/"+asyncID, token, &call)
	if call["status"] != "succeeded" {
		t.Fatalf("async call: %v", call)
	}
}

// TestConcurrentCallsShareSlots runs more synchronous calls at once than a
// worker has slots: all succeed, and the worker never runs more than its
// concurrency.
func TestConcurrentCallsShareSlots(t *testing.T) {
	env := testenv.New(t)
	env.Config.Worker.Concurrency = 2
	base, token := withSlow(t, env)

	var wg sync.WaitGroup
	results := make(chan string, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 0.5})
			results <- fmt.Sprint(code, " ", out["status"])
		}()
	}
	peak := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(50 * time.Millisecond):
			var ws struct {
				Workers []struct {
					InFlight int `json:"in_flight"`
				} `json:"workers"`
			}
			get(t, base+"/api/admin/workers", token, &ws)
			if len(ws.Workers) == 1 {
				peak = max(peak, ws.Workers[0].InFlight)
			}
		}
	}
	close(results)
	for r := range results {
		if r != "200 succeeded" {
			t.Errorf("call: %s", r)
		}
	}
	if peak > 2 {
		t.Errorf("worker with 2 slots ran %d calls at once", peak)
	}
}

// TestResultRecordedFromOrigin delivers a result for a call the api never
// wrote down, as happens when the api restarts within a synchronous call's
// first 200 ms: the call is recorded from the origin the result carries.
func TestResultRecordedFromOrigin(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	token := login(t, base)
	conn := busClient(t, env, "test-worker")

	now := time.Now()
	res := &busv1.CallResult{CallId: "0b0e52a4-6f44-4f4e-9d0c-6c3c1a1e0001", Status: "succeeded",
		ResultJson: []byte(`{"ok":true}`), DurationMs: 3, WorkerId: "remote-1", StartedAtMs: now.UnixMilli(),
		FinishedAtMs: now.UnixMilli(), Attempt: 1,
		Origin: &busv1.CallOrigin{FunctionName: "gone", TriggerType: "manual", EnqueuedAtMs: now.UnixMilli()}}
	data, err := proto.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.JS.Publish(ctx, bus.ResultSubjectPrefix+res.CallId, data,
		jetstream.WithMsgID(res.CallId+"-result")); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "result recorded", func() error {
		var call map[string]any
		get(t, base+"/api/admin/functions/calls/"+res.CallId, token, &call)
		if call["status"] != "succeeded" || call["function_name"] != "gone" || call["worker_id"] != "remote-1" {
			return fmt.Errorf("call: %v", call)
		}
		return nil
	})
}

// TestOrphanedDirectCallFailsAfterRestart leaves a call running on a
// worker that never comes back, as when the api and that worker die
// together: the next api records the call as lost instead of leaving it
// running.
func TestOrphanedDirectCallFailsAfterRestart(t *testing.T) {
	env := testenv.New(t)
	a, base := startAPI(t, env)
	if err := a.Stop(t); err != nil {
		t.Fatal(err)
	}
	path, err := env.Config.DatabasePath()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	gone := "worker-gone"
	// Two calls the previous api handed to a worker that is gone: one
	// lost with it, one the worker handed back to the queue as it drained.
	for _, id := range []string{"orphan", "handed-back"} {
		if _, err := calls.NewCalls(db).Create(context.Background(), calls.NewCall{ID: id, FunctionName: "slow",
			WorkerID: &gone}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	conn := busClient(t, env, "test-probe")
	req, _ := proto.Marshal(&busv1.CallRequest{CallId: "handed-back", FunctionName: "slow", PriorAttempts: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.JS.Publish(ctx, bus.CallSubject("slow", "handed-back"), req,
		jetstream.WithMsgID("handed-back")); err != nil {
		t.Fatal(err)
	}

	_, base = startAPI(t, env)
	token := login(t, base)
	testenv.WaitFor(t, 15*time.Second, "orphaned call failed", func() error {
		var call map[string]any
		get(t, base+"/api/admin/functions/calls/orphan", token, &call)
		if call["status"] != "failed" || call["error_type"] != "WorkerLost" {
			return fmt.Errorf("call: %v", call)
		}
		return nil
	})
	// The sweep ran (it takes every call in one pass; give it a moment to
	// finish): the queued call waits for a worker, still running.
	time.Sleep(time.Second)
	var call map[string]any
	get(t, base+"/api/admin/functions/calls/handed-back", token, &call)
	if call["status"] != "running" {
		t.Fatalf("handed-back call: %v", call)
	}
}

// TestDirectCallLostOnTheWay stands up a worker that announces itself and
// swallows every direct call, as a worker does whose connection dropped
// the message: its heartbeats never list the call, so the api queues it
// for the real worker.
func TestDirectCallLostOnTheWay(t *testing.T) {
	env := testenv.New(t)
	base, token := withSlow(t, env)

	conn := busClient(t, env, "ghost")
	var beating sync.WaitGroup
	var count int
	var mu sync.Mutex
	if _, err := conn.NC.Subscribe(bus.DirectCallSubject("ghost"), func(*nats.Msg) {
		mu.Lock()
		count++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	beating.Add(1)
	go func() {
		defer beating.Done()
		st := bus.RoleStatus{Role: "worker", ID: "ghost", Host: "nowhere", PID: 1, Concurrency: 4, Direct: true,
			StartedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		data, _ := json.Marshal(st)
		for ctx.Err() == nil {
			_ = conn.NC.Publish(bus.WorkerHeartbeatSubject, data)
			time.Sleep(300 * time.Millisecond)
		}
	}()
	defer func() {
		stop()
		beating.Wait()
	}()
	time.Sleep(time.Second) // the api hears the ghost

	var requeued []string
	for range 6 {
		start := time.Now()
		code, out := post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 0})
		if code != 200 || out["status"] != "succeeded" {
			t.Fatalf("call: %d %v", code, out)
		}
		if time.Since(start) > time.Second {
			requeued = append(requeued, out["call_id"].(string))
		}
	}
	mu.Lock()
	n := count
	mu.Unlock()
	if n == 0 || len(requeued) != n {
		t.Fatalf("the ghost beating %d calls; %d calls took over a second", n, len(requeued))
	}
	for _, id := range requeued {
		var call map[string]any
		get(t, base+"/api/admin/functions/calls/"+id, token, &call)
		if call["status"] != "succeeded" || call["worker_id"] != "w1" || call["attempts"].(float64) != 2 {
			t.Errorf("requeued call: %v", call)
		}
	}
}

// TestRequeuedCopyDropped hands a call to a worker that looks as if it
// lost it (its heartbeats do not list it) but then reports the result
// after all: the copy the api queued meanwhile must not stay behind to
// run again.
func TestRequeuedCopyDropped(t *testing.T) {
	env := testenv.New(t)
	if err := os.WriteFile(filepath.Join(env.Config.FunctionsDir(), "slow.py"), []byte(slowPy), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := startAPI(t, env)
	w1 := startWorker(t, env, "w1")
	waitListed(t, base, "slow")
	token := login(t, base)
	// Only the ghost below takes calls from now on; w1 was needed to
	// describe the function.
	if err := w1.Stop(t); err != nil {
		t.Fatal(err)
	}

	conn := busClient(t, env, "ghost")
	got := make(chan *busv1.CallRequest, 1)
	if _, err := conn.NC.Subscribe(bus.DirectCallSubject("ghost"), func(m *nats.Msg) {
		var req busv1.CallRequest
		if proto.Unmarshal(m.Data, &req) == nil {
			got <- &req
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var beating sync.WaitGroup
	beating.Add(1)
	go func() {
		defer beating.Done()
		st := bus.RoleStatus{Role: "worker", ID: "ghost", Host: "nowhere", PID: 1, Concurrency: 4, Direct: true,
			StartedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		data, _ := json.Marshal(st)
		for ctx.Err() == nil {
			_ = conn.NC.Publish(bus.WorkerHeartbeatSubject, data)
			time.Sleep(300 * time.Millisecond)
		}
	}()
	defer func() {
		stop()
		beating.Wait()
	}()
	time.Sleep(time.Second)
	// w1 is gone, so the call can only go to the ghost.
	testenv.WaitFor(t, 15*time.Second, "w1 gone", func() error {
		var ws struct {
			Workers []struct {
				ID string `json:"id"`
			} `json:"workers"`
		}
		get(t, base+"/api/admin/workers", token, &ws)
		if len(ws.Workers) != 1 || ws.Workers[0].ID != "ghost" {
			return fmt.Errorf("workers: %+v", ws)
		}
		return nil
	})

	answered := make(chan map[string]any, 1)
	go func() {
		_, out := post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 0})
		answered <- out
	}()
	var req *busv1.CallRequest
	select {
	case req = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the ghost")
	}
	// Not listed in the ghost's heartbeats: the api queues a copy.
	subject := bus.CallSubject("slow", req.CallId)
	stream, err := conn.JS.Stream(ctx, bus.CallsStream)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "copy queued", func() error {
		_, err := stream.GetLastMsgForSubject(ctx, subject)
		return err
	})
	// The ghost finishes the call after all.
	now := time.Now()
	res, _ := proto.Marshal(&busv1.CallResult{CallId: req.CallId, Status: "succeeded",
		ResultJson: []byte(`{"slept":0}`),
		WorkerId:   "ghost", StartedAtMs: now.UnixMilli(), FinishedAtMs: now.UnixMilli(), Attempt: 1,
		Origin: bus.OriginOf(req)})
	if reply, err := conn.NC.Request(bus.ResultDirectSubject, res, 10*time.Second); err != nil ||
		string(reply.Data) != bus.ResultRecorded {
		t.Fatalf("deliver the ghost's result: %v", err)
	}
	if out := <-answered; out["status"] != "succeeded" || out["call_id"] != req.CallId {
		t.Fatalf("answer: %v", out)
	}
	testenv.WaitFor(t, 10*time.Second, "queued copy dropped", func() error {
		if _, err := stream.GetLastMsgForSubject(ctx, subject); err == nil {
			return fmt.Errorf("a copy of %s is still queued", req.CallId)
		}
		return nil
	})
}

// callbackPy waits for a file, then calls back into TinyBase with its call
// token and reports the answer's status on stderr.
const callbackPy = `import os, sys, time
from tinybase_sdk import register, TinyBaseError
from tinybase_sdk.cli import run

@register(name="callback", description="calls back", auth="auth")
def callback(client, payload: dict) -> dict:
    while not os.path.exists(payload["go"]):
        time.sleep(0.05)
    status = 0
    for _ in range(100):
        try:
            client.get("/auth/me")
            status = 200
        except TinyBaseError as e:
            status = e.status
        if status not in (0, 502, 503):
            break
        time.sleep(0.2)
    print("callback", status, file=sys.stderr)
    return {"status": status}

if __name__ == "__main__":
    run()
`

// TestCallTokenAcrossRestart stops the api while a synchronous call is
// younger than its running record: the new api has no record of the call,
// yet the function's token still acts until the call ends.
func TestCallTokenAcrossRestart(t *testing.T) {
	env := testenv.New(t)
	path := filepath.Join(env.Config.FunctionsDir(), "callback.py")
	if err := os.WriteFile(path, []byte(callbackPy), 0o644); err != nil {
		t.Fatal(err)
	}
	// The function calls back to the configured address, which the api
	// started again must listen on too.
	first := testenv.Listen(t)
	addr := first.Addr().(*net.TCPAddr)
	env.Config.Server.Port = addr.Port
	a, base := startAPIOn(t, env, first)
	startWorker(t, env, "w1")
	token := login(t, base)
	testenv.WaitFor(t, 30*time.Second, "callback listed", func() error {
		var fns []map[string]any
		get(t, base+"/api/functions", token, &fns)
		for _, f := range fns {
			if f["name"] == "callback" {
				return nil
			}
		}
		return fmt.Errorf("functions: %v", fns)
	})

	// Functions may run as another user: the folder must be open to it.
	goDir, err := os.MkdirTemp("", "tb-callback-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(goDir) })
	if err := os.Chmod(goDir, 0o755); err != nil {
		t.Fatal(err)
	}
	goFile := filepath.Join(goDir, "go")
	answered := make(chan map[string]any, 1)
	go func() {
		_, out := post(t, base+"/api/functions/callback", token, map[string]any{"go": goFile})
		answered <- out
	}()
	time.Sleep(50 * time.Millisecond) // on the worker, well inside its first 200 ms
	if err := a.Stop(t); err != nil {
		t.Fatal(err)
	}
	out := <-answered
	id, _ := out["call_id"].(string)
	if out["code"] != "shutting_down" || id == "" {
		t.Fatalf("caller while the api stopped: %v", out)
	}
	var again net.Listener
	testenv.WaitFor(t, 10*time.Second, "the api's address free again", func() error {
		var err error
		again, err = net.Listen("tcp", addr.String())
		return err
	})
	_, base = startAPIOn(t, env, again)
	token = login(t, base)
	var call map[string]any
	if code := get(t, base+"/api/admin/functions/calls/"+id, token, &call); code != 404 {
		t.Fatalf("the call has a record before it ends: %d %v", code, call)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "call recorded", func() error {
		get(t, base+"/api/admin/functions/calls/"+id, token, &call)
		if call["status"] != "succeeded" {
			return fmt.Errorf("call: %v", call)
		}
		return nil
	})
	if stderr, _ := call["stderr"].(string); !strings.Contains(stderr, "callback 200") {
		t.Fatalf("the function's callback after the restart: %q", stderr)
	}
}
