package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/runner"
	"github.com/tinybase/tinybase/pkg/sdk"
)

// The test binary doubles as a Go function: with TB_SDK_HELPER=probe in its
// environment it registers probe and runs the SDK, so the runner drives a
// real process built with the SDK.
func TestMain(m *testing.M) {
	if os.Getenv("TB_SDK_HELPER") == "probe" {
		sdk.Register(sdk.Function{Name: "probe", Description: "sdk test probe", Auth: "public",
			Tags: []string{"test"}}, probe)
		sdk.Run()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type address struct {
	City string `json:"city"`
	Zip  string `json:"zip,omitempty"`
}

type probeInput struct {
	X       int      `json:"x"`
	Y       int      `json:"y"`
	Mode    string   `json:"mode,omitempty"`
	Address *address `json:"address,omitempty"`
	Path    string   `json:"path,omitempty"`
}

type probeOutput struct {
	Sum          int     `json:"sum"`
	PID          int     `json:"pid"`
	RequestID    string  `json:"request_id"`
	FunctionName string  `json:"function_name"`
	UserID       *string `json:"user_id"`
	IsAdmin      bool    `json:"is_admin"`
	Body         string  `json:"body,omitempty"`
}

func probe(ctx context.Context, c *sdk.Client, in probeInput) (probeOutput, error) {
	switch in.Mode {
	case "error":
		return probeOutput{}, errors.New("plain failure")
	case "typed":
		return probeOutput{}, sdk.Errorf("NotFound", "no order %d", in.X)
	case "panic":
		panic("boom")
	case "print":
		fmt.Println("printed by the handler")
	case "exec":
		cmd := exec.Command("echo", "echoed by a child")
		cmd.Stdout = os.Stdout
		if err := cmd.Run(); err != nil {
			return probeOutput{}, err
		}
	case "stdin":
		data, _ := io.ReadAll(os.Stdin)
		if len(data) > 0 {
			return probeOutput{}, fmt.Errorf("stdin was not empty: %q", data)
		}
	case "callback":
		var out struct {
			Body string `json:"body"`
		}
		if err := c.Post(ctx, in.Path, map[string]int{"x": in.X}, &out); err != nil {
			return probeOutput{}, err
		}
		return probeOutput{Body: out.Body}, nil
	case "exit":
		os.Exit(3)
	}
	info := c.Info()
	return probeOutput{Sum: in.X + in.Y, PID: os.Getpid(), RequestID: info.RequestID,
		FunctionName: info.FunctionName, UserID: info.UserID, IsAdmin: info.IsAdmin}, nil
}

func newRunner(t *testing.T, poolSize int) (*runner.Runner, runner.Function) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{PoolSize: poolSize, KillGrace: 500 * time.Millisecond,
		Env: []string{"PATH=" + os.Getenv("PATH"), "TB_SDK_HELPER=probe"}})
	t.Cleanup(r.Close)
	return r, runner.Function{Name: "probe", Path: exe, Digest: "sdk-probe"}
}

func call(t *testing.T, r *runner.Runner, fn runner.Function, payload string) runner.Result {
	t.Helper()
	return r.Call(context.Background(), fn, runner.Request{Payload: json.RawMessage(payload), Timeout: 20 * time.Second})
}

func succeed(t *testing.T, res runner.Result) probeOutput {
	t.Helper()
	if res.Status != runner.StatusSucceeded {
		t.Fatalf("call failed: %s: %s (stderr %q)", res.ErrorType, res.ErrorMessage, res.Stderr)
	}
	var out probeOutput
	if err := json.Unmarshal(res.Result, &out); err != nil {
		t.Fatalf("result %s: %v", res.Result, err)
	}
	return out
}

func TestDescribe(t *testing.T) {
	r, fn := newRunner(t, 0)
	md, err := r.Describe(context.Background(), fn)
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "probe" || md.Description != "sdk test probe" || md.Auth != "public" ||
		strings.Join(md.Tags, ",") != "test" {
		t.Fatalf("metadata = %+v", md)
	}
	wantIn := `{"type":"object","title":"probeInput","properties":{` +
		`"x":{"type":"integer"},"y":{"type":"integer"},"mode":{"type":"string"},` +
		`"address":{"anyOf":[{"type":"object","title":"address","properties":{"city":{"type":"string"},` +
		`"zip":{"type":"string"}},"required":["city"]},{"type":"null"}]},"path":{"type":"string"}},` +
		`"required":["x","y"]}`
	if string(md.InputSchema) != wantIn {
		t.Errorf("input schema\n got %s\nwant %s", md.InputSchema, wantIn)
	}
	if !strings.Contains(string(md.OutputSchema), `"user_id":{"anyOf":[{"type":"string"},{"type":"null"}]}`) {
		t.Errorf("output schema %s", md.OutputSchema)
	}
}

func TestCallAndWarmReuse(t *testing.T) {
	r, fn := newRunner(t, 1)
	user := "u-1"
	res := r.Call(context.Background(), fn, runner.Request{ID: "call-1", Payload: json.RawMessage(`{"x":1,"y":2}`),
		Context: runner.CallContext{UserID: &user, IsAdmin: true}, Timeout: 20 * time.Second})
	out := succeed(t, res)
	if out.Sum != 3 || out.RequestID != "call-1" || out.FunctionName != "probe" ||
		out.UserID == nil || *out.UserID != user || !out.IsAdmin {
		t.Fatalf("result = %s", res.Result)
	}
	for i := range 3 {
		again := succeed(t, call(t, r, fn, fmt.Sprintf(`{"x":%d,"y":1}`, i)))
		if again.PID != out.PID {
			t.Fatalf("call %d ran in pid %d, first in %d: process not reused", i, again.PID, out.PID)
		}
		if again.Sum != i+1 {
			t.Fatalf("sum = %d", again.Sum)
		}
	}
}

func TestFailures(t *testing.T) {
	r, fn := newRunner(t, 1)
	first := succeed(t, call(t, r, fn, `{"x":1,"y":1}`))
	tests := []struct {
		name, payload, wantType, wantMessage string
	}{
		{"error", `{"x":1,"y":1,"mode":"error"}`, "Error", "plain failure"},
		{"typed error", `{"x":7,"y":1,"mode":"typed"}`, "NotFound", "no order 7"},
		{"panic", `{"x":1,"y":1,"mode":"panic"}`, "Panic", "panic: boom"},
		{"wrong type", `{"x":"a","y":2}`, "ValidationError", "Field 'x' must be an integer, got string"},
		{"missing", `{"x":1}`, "ValidationError", "Field 'y' is required"},
		{"nested", `{"x":1,"y":1,"address":{"zip":"1"}}`, "ValidationError", "Field 'address.city' is required"},
		{"not an object", `[1]`, "ValidationError", "Payload must be an object, got array"},
		{"fraction", `{"x":1.5,"y":1}`, "ValidationError", "Field 'x' must be an integer, got number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, r, fn, tt.payload)
			if res.Status != runner.StatusFailed || res.ErrorType != tt.wantType || res.ErrorMessage != tt.wantMessage {
				t.Fatalf("got %s %q %q, want failed %q %q", res.Status, res.ErrorType, res.ErrorMessage,
					tt.wantType, tt.wantMessage)
			}
		})
	}
	// None of that cost the process.
	if again := succeed(t, call(t, r, fn, `{"x":1,"y":1}`)); again.PID != first.PID {
		t.Fatalf("pid %d after failures, %d before: the process was replaced", again.PID, first.PID)
	}
	res := call(t, r, fn, `{"x":1,"y":1,"mode":"panic"}`)
	if !strings.Contains(res.Stderr, "panic: boom") || !strings.Contains(res.Stderr, "goroutine") {
		t.Fatalf("panic stack not on stderr: %q", res.Stderr)
	}
}

func TestStdoutIsProtected(t *testing.T) {
	r, fn := newRunner(t, 1)
	first := succeed(t, call(t, r, fn, `{"x":0,"y":0}`))
	for _, tt := range []struct{ mode, want string }{
		{"print", "printed by the handler"},
		{"exec", "echoed by a child"},
		{"stdin", ""},
	} {
		res := call(t, r, fn, fmt.Sprintf(`{"x":0,"y":0,"mode":%q}`, tt.mode))
		out := succeed(t, res)
		if !strings.Contains(res.Stderr, tt.want) {
			t.Errorf("%s: stderr %q lacks %q", tt.mode, res.Stderr, tt.want)
		}
		if out.PID != first.PID {
			t.Errorf("%s: output broke the protocol and the process was replaced", tt.mode)
		}
	}
}

func TestExitIsReported(t *testing.T) {
	r, fn := newRunner(t, 1)
	res := call(t, r, fn, `{"x":0,"y":0,"mode":"exit"}`)
	if res.Status != runner.StatusFailed || res.ErrorType != runner.ErrorTypeSubprocess {
		t.Fatalf("got %+v, want SubprocessError", res)
	}
	succeed(t, call(t, r, fn, `{"x":0,"y":0}`))
}

func TestClientCallsBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.URL.Path != "/api/echo" || req.Header.Get("Authorization") != "Bearer call-token" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"detail":"Not authenticated"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"body": string(body)})
	}))
	defer srv.Close()
	r, fn := newRunner(t, 1)
	req := func(path string) runner.Result {
		return r.Call(context.Background(), fn, runner.Request{
			Payload: json.RawMessage(fmt.Sprintf(`{"x":5,"y":0,"mode":"callback","path":%q}`, path)),
			Context: runner.CallContext{APIBaseURL: srv.URL + "/api", AuthToken: "call-token"},
			Timeout: 20 * time.Second})
	}
	if out := succeed(t, req("echo")); out.Body != `{"x":5}` {
		t.Fatalf("callback body = %q", out.Body)
	}
	res := req("elsewhere")
	if res.ErrorType != "APIError" || res.ErrorMessage != "HTTP 401: Not authenticated" {
		t.Fatalf("got %s %q, want APIError", res.ErrorType, res.ErrorMessage)
	}
}

func helperCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{"TB_SDK_HELPER=probe", "PATH=" + os.Getenv("PATH")}
	return cmd
}

func TestOneShot(t *testing.T) {
	cmd := helperCmd(t)
	cmd.Stdin = strings.NewReader(`{"context":{"request_id":"r1","function_name":"probe"},"payload":{"x":2,"y":3}}`)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Status string      `json:"status"`
		Result probeOutput `json:"result"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.Status != "succeeded" || resp.Result.Sum != 5 ||
		resp.Result.RequestID != "r1" {
		t.Fatalf("one-shot output %q (%v)", out, err)
	}
}

func TestUsage(t *testing.T) {
	cmd := helperCmd(t, "--bogus")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "usage:") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
}

// BenchmarkWarmCall measures a call to a warm Go function process through
// the runner: one request line out, one response line back.
func BenchmarkWarmCall(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	r := runner.New(runner.Options{PoolSize: 1, Env: []string{"TB_SDK_HELPER=probe"}})
	defer r.Close()
	fn := runner.Function{Name: "probe", Path: exe, Digest: "sdk-bench"}
	req := runner.Request{Payload: json.RawMessage(`{"x":1,"y":2}`), Timeout: 20 * time.Second}
	if res := r.Call(context.Background(), fn, req); res.Status != runner.StatusSucceeded {
		b.Fatalf("%+v", res)
	}
	b.ResetTimer()
	for b.Loop() {
		if res := r.Call(context.Background(), fn, req); res.Status != runner.StatusSucceeded {
			b.Fatalf("%+v", res)
		}
	}
}

// BenchmarkColdCall measures a call that starts a new Go function process
// (pool size 0): start, ready line, call, exit.
func BenchmarkColdCall(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	r := runner.New(runner.Options{PoolSize: 0, Env: []string{"TB_SDK_HELPER=probe"}})
	defer r.Close()
	fn := runner.Function{Name: "probe", Path: exe, Digest: "sdk-bench-cold"}
	req := runner.Request{Payload: json.RawMessage(`{"x":1,"y":2}`), Timeout: 20 * time.Second}
	for b.Loop() {
		if res := r.Call(context.Background(), fn, req); res.Status != runner.StatusSucceeded {
			b.Fatalf("%+v", res)
		}
	}
}
