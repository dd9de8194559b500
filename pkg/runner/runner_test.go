package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/sdk/python"
)

// probeSource is a function whose payload selects a behaviour, so most
// tests share one file.
const probeSource = `import os
import subprocess
import sys
import time

from tinybase_sdk import register
from tinybase_sdk.cli import run


@register(name="probe", description="test probe", auth="public", tags=["test"])
def probe(client, payload: dict) -> dict:
    if payload.get("stderr"):
        sys.stderr.write(payload["stderr"] + "\n")
    if payload.get("print"):
        print(payload["print"])
    if payload.get("echo"):
        subprocess.run(["echo", payload["echo"]], check=True)
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    if payload.get("crash"):
        sys.stderr.write("boom: about to crash\n")
        sys.stderr.flush()
        os._exit(3)
    if payload.get("raise"):
        raise RuntimeError(payload["raise"])
    if payload.get("big"):
        return {"data": "x" * payload["big"]}
    if payload.get("spawn"):
        child = subprocess.Popen(["sleep", "60"])
        with open(payload["spawn"] + ".tmp", "w") as f:
            f.write("%d %d" % (os.getpid(), child.pid))
        os.rename(payload["spawn"] + ".tmp", payload["spawn"])
        time.sleep(60)
    if payload.get("env"):
        return {"env": dict(os.environ)}
    ctx = client.context
    return {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "request_id": ctx.request_id,
        "function_name": ctx.function_name,
        "user_id": ctx.user_id,
        "is_admin": ctx.is_admin,
        "api_base_url": ctx.api_base_url,
    }


if __name__ == "__main__":
    run()
`

// shellSource speaks the protocol without the SDK. MODE selects a defect.
const shellSource = `#!/bin/sh
case "$1" in
--metadata) echo '{"name":"sh_probe","description":"shell probe","tags":["sh"]}'; exit 0 ;;
--serve) ;;
*) exit 2 ;;
esac
case "MODE" in
noready) echo "cannot start: missing config" >&2; exit 4 ;;
badversion) echo '{"ready":true,"protocol":2}' ;;
*) echo '{"ready":true,"protocol":1}' ;;
esac
while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
  case "MODE" in
  garbage) echo "this is not json" ;;
  mismatch) echo "{\"id\":\"other\",\"status\":\"succeeded\",\"result\":1}" ;;
  *) echo "{\"id\":\"$id\",\"status\":\"succeeded\",\"result\":{\"pid\":$$}}" ;;
  esac
done
`

type fixture struct {
	dir    string
	sdkDir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	sdkDir := filepath.Join(dir, "sdk")
	if err := python.Install(sdkDir); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, sdkDir: sdkDir}
}

func (f *fixture) write(t testing.TB, name, src string, mode os.FileMode) Function {
	t.Helper()
	dir := filepath.Join(f.dir, "functions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), mode); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(src))
	return Function{Name: strings.TrimSuffix(name, filepath.Ext(name)), Path: path, Digest: hex.EncodeToString(sum[:])}
}

func (f *fixture) probe(t *testing.T) Function { return f.write(t, "probe.py", probeSource, 0o644) }

func (f *fixture) shell(t *testing.T, mode string) Function {
	return f.write(t, "sh_"+mode, strings.ReplaceAll(shellSource, "MODE", mode), 0o755)
}

func (f *fixture) runner(t testing.TB, opts Options) *Runner {
	t.Helper()
	if opts.SDKDir == "" {
		opts.SDKDir = f.sdkDir
	}
	if opts.Env == nil {
		opts.Env = []string{"PATH=" + os.Getenv("PATH"), "PYTHONDONTWRITEBYTECODE=1"}
	}
	if opts.KillGrace == 0 {
		opts.KillGrace = 500 * time.Millisecond
	}
	r := New(opts)
	t.Cleanup(r.Close)
	return r
}

func call(t *testing.T, r *Runner, fn Function, payload string) Result {
	t.Helper()
	return r.Call(context.Background(), fn, Request{Payload: json.RawMessage(payload), Timeout: 30 * time.Second})
}

func mustSucceed(t *testing.T, res Result) map[string]any {
	t.Helper()
	if res.Status != StatusSucceeded {
		t.Fatalf("call failed: %s: %s (stderr %q)", res.ErrorType, res.ErrorMessage, res.Stderr)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Result, &out); err != nil {
		t.Fatalf("result %s: %v", res.Result, err)
	}
	return out
}

func pidOf(t *testing.T, res Result) int {
	t.Helper()
	pid, ok := mustSucceed(t, res)["pid"].(float64)
	if !ok || pid <= 0 {
		t.Fatalf("result has no pid: %s", res.Result)
	}
	return int(pid)
}

func mustFail(t *testing.T, res Result, errorType string) {
	t.Helper()
	if res.Status != StatusFailed || res.ErrorType != errorType {
		t.Fatalf("got status %q type %q (%s), want failed %q", res.Status, res.ErrorType, res.ErrorMessage, errorType)
	}
}

// processGone reports whether pid no longer runs; a zombie counts as gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'Z'
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		waitFor(t, fmt.Sprintf("process %d to exit", pid), func() bool { return processGone(pid) })
	}
}

func assertStats(t *testing.T, r *Runner, wantIdle, wantBusy int) {
	t.Helper()
	if idle, busy := r.Stats(); idle != wantIdle || busy != wantBusy {
		t.Fatalf("Stats() = idle %d busy %d, want idle %d busy %d", idle, busy, wantIdle, wantBusy)
	}
}

func TestDescribe(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{})
	hello := f.write(t, "hello.py", string(python.HelloExample()), 0o644)

	md, err := r.Describe(context.Background(), hello)
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "hello" || md.Auth != AuthPublic || md.Description == "" {
		t.Fatalf("metadata = %+v", md)
	}
	var in struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(md.InputSchema, &in); err != nil || in.Type != "object" || in.Properties["name"] == nil {
		t.Fatalf("input schema %s (%v)", md.InputSchema, err)
	}
	if len(md.OutputSchema) == 0 {
		t.Fatal("output schema missing")
	}

	shell, err := r.Describe(context.Background(), f.shell(t, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if shell.Name != "sh_probe" || shell.Auth != AuthUser || shell.InputSchema != nil || len(shell.Tags) != 1 {
		t.Fatalf("shell metadata = %+v", shell)
	}

	tests := []struct {
		name    string
		file    string
		src     string
		mode    os.FileMode
		wantErr error
		wantMsg string
	}{
		{"not executable", "notes.txt", "hello", 0o644, ErrNotRunnable, "notes.txt"},
		{"nothing registered", "empty.py", "from tinybase_sdk.cli import run\nrun()\n", 0o644, ErrDescribeFailed,
			"No function registered"},
		{"invalid auth", "root.sh", "#!/bin/sh\necho '{\"name\":\"x\",\"auth\":\"root\"}'\n", 0o755,
			ErrInvalidMetadata, `"root"`},
		{"empty name", "noname.sh", "#!/bin/sh\necho '{\"name\":\"\"}'\n", 0o755, ErrInvalidMetadata, "name"},
		{"not json", "text.sh", "#!/bin/sh\necho hello\n", 0o755, ErrInvalidMetadata, "text.sh"},
		{"register rejects auth", "bad.py",
			"from tinybase_sdk import register\n@register(name='bad', auth='everyone')\ndef bad(client): pass\n",
			0o644, ErrDescribeFailed, "everyone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := f.write(t, tt.file, tt.src, tt.mode)
			_, err := r.Describe(context.Background(), fn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := r.Describe(context.Background(), Function{Name: "x", Path: filepath.Join(f.dir, "nope.py")})
		if !errors.Is(err, ErrNotRunnable) || !strings.Contains(err.Error(), "nope.py") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCallHello(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1})
	hello := f.write(t, "hello.py", string(python.HelloExample()), 0o644)

	tests := []struct{ payload, want string }{
		{`{"name":"Ada"}`, `{"message":"Hello, Ada!"}`},
		{``, `{"message":"Hello, World!"}`},
	}
	for _, tt := range tests {
		res := call(t, r, hello, tt.payload)
		if res.Status != StatusSucceeded || string(res.Result) != tt.want {
			t.Fatalf("payload %q: got %+v, want %s", tt.payload, res, tt.want)
		}
		if res.Duration <= 0 {
			t.Fatalf("duration not set: %v", res.Duration)
		}
	}
	res := call(t, r, hello, `{"name":42}`)
	mustFail(t, res, "ValidationError")
	if !strings.Contains(res.ErrorMessage, "name") {
		t.Fatalf("message %q does not name the field", res.ErrorMessage)
	}
}

func TestCallContext(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1})
	fn := f.probe(t)
	user := "0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e"
	res := r.Call(context.Background(), fn, Request{
		ID:      "call-1",
		Context: CallContext{APIBaseURL: "http://127.0.0.1:1/api", AuthToken: "tok", UserID: &user, IsAdmin: true},
		Payload: json.RawMessage(`{}`),
		Timeout: 30 * time.Second,
	})
	out := mustSucceed(t, res)
	want := map[string]any{
		"request_id": "call-1", "function_name": "probe", "user_id": user, "is_admin": true,
		"api_base_url": "http://127.0.0.1:1/api", "cwd": filepath.Dir(fn.Path),
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
}

func TestWarmReuse(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2})
	fn := f.probe(t)
	first := pidOf(t, call(t, r, fn, `{}`))
	for i := 0; i < 3; i++ {
		if pid := pidOf(t, call(t, r, fn, `{}`)); pid != first {
			t.Fatalf("call %d ran in pid %d, want warm pid %d", i, pid, first)
		}
	}
	// A failure raised by the function leaves the process healthy.
	res := call(t, r, fn, `{"raise":"nope"}`)
	mustFail(t, res, "RuntimeError")
	if res.ErrorMessage != "nope" || !strings.Contains(res.Stderr, "Traceback") {
		t.Fatalf("got %+v", res)
	}
	if pid := pidOf(t, call(t, r, fn, `{}`)); pid != first {
		t.Fatalf("after a raised error pid %d, want %d", pid, first)
	}
	assertStats(t, r, 1, 0)
}

func TestPoolSizeZero(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 0})
	fn := f.probe(t)
	a := pidOf(t, call(t, r, fn, `{}`))
	b := pidOf(t, call(t, r, fn, `{}`))
	if a == b {
		t.Fatalf("both calls ran in pid %d", a)
	}
	assertStats(t, r, 0, 0)
	waitGone(t, a, b)
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2, KillGrace: 200 * time.Millisecond})
	fn := f.probe(t)
	pidFile := filepath.Join(f.dir, "pids")
	payload, _ := json.Marshal(map[string]string{"spawn": pidFile})

	res := r.Call(context.Background(), fn, Request{Payload: payload, Timeout: 2 * time.Second})
	mustFail(t, res, ErrorTypeTimeout)
	if res.ErrorMessage != "Function execution timeout" {
		t.Fatalf("message %q", res.ErrorMessage)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("function did not record its pids: %v", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		t.Fatalf("pid file %q", data)
	}
	leader, _ := strconv.Atoi(fields[0])
	grandchild, _ := strconv.Atoi(fields[1])
	waitGone(t, leader, grandchild)
	assertStats(t, r, 0, 0)

	// The function still works afterwards, in a new process.
	if pid := pidOf(t, call(t, r, fn, `{}`)); pid == leader {
		t.Fatal("timed-out process was reused")
	}
}

func TestCrash(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2})
	fn := f.probe(t)
	before := pidOf(t, call(t, r, fn, `{}`))

	res := call(t, r, fn, `{"crash":true}`)
	mustFail(t, res, ErrorTypeSubprocess)
	if strings.Contains(res.ErrorMessage, "boom") || !strings.Contains(res.Stderr, "boom: about to crash") {
		t.Fatalf("message %q must not, and stderr %q must, carry the crash output", res.ErrorMessage, res.Stderr)
	}
	waitGone(t, before)
	after := pidOf(t, call(t, r, fn, `{}`))
	if after == before {
		t.Fatal("crashed process was reused")
	}
}

func TestOutputRedirection(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1})
	fn := f.probe(t)
	tests := []struct {
		name, payload, want string
	}{
		{"print", `{"print":"printed by user code"}`, "printed by user code"},
		{"child process stdout", `{"echo":"echoed by a child"}`, "echoed by a child"},
		{"stderr", `{"stderr":"written to stderr"}`, "written to stderr"},
	}
	var pids []int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, r, fn, tt.payload)
			pids = append(pids, pidOf(t, res))
			if !strings.Contains(res.Stderr, tt.want) {
				t.Fatalf("Stderr = %q, want it to contain %q", res.Stderr, tt.want)
			}
		})
	}
	// Output of one call is not attributed to the next.
	res := call(t, r, fn, `{}`)
	pids = append(pids, pidOf(t, res))
	if res.Stderr != "" {
		t.Fatalf("quiet call got Stderr %q", res.Stderr)
	}
	for _, pid := range pids[1:] {
		if pid != pids[0] {
			t.Fatalf("pids %v: output broke the protocol and the process was replaced", pids)
		}
	}
}

func TestStderrIsBounded(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1, MaxStderrBytes: 100})
	fn := f.probe(t)
	long := strings.Repeat("a", 500) + "THE-END"
	res := call(t, r, fn, fmt.Sprintf(`{"stderr":%q}`, long))
	mustSucceed(t, res)
	if len(res.Stderr) > 100 || !strings.Contains(res.Stderr, "THE-END") {
		t.Fatalf("Stderr (%d bytes) = %q, want the 100-byte tail", len(res.Stderr), res.Stderr)
	}
}

func TestResultTooLarge(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1, MaxResultBytes: 1000})
	fn := f.probe(t)
	pid := pidOf(t, call(t, r, fn, `{}`))
	for _, size := range []int{1000, 5000, 3 << 20} {
		res := call(t, r, fn, fmt.Sprintf(`{"big":%d}`, size))
		mustFail(t, res, ErrorTypeResultSize)
		if res.ErrorMessage != "Result exceeds maximum size of 1000 bytes" || res.Result != nil {
			t.Fatalf("size %d: got %+v", size, res)
		}
	}
	if got := pidOf(t, call(t, r, fn, `{}`)); got != pid {
		t.Fatalf("process replaced after oversized results: pid %d, want %d", got, pid)
	}
	res := call(t, r, fn, `{"big":10}`)
	mustSucceed(t, res)
}

func TestEnvironmentIsolation(t *testing.T) {
	f := newFixture(t)
	t.Setenv("TINYBASE_TEST_SECRET", "hunter2")
	r := f.runner(t, Options{Env: []string{"PATH=" + os.Getenv("PATH"), "FUNCTION_SETTING=on", "PYTHONPATH=/opt/extra"}})
	res := call(t, r, f.probe(t), `{"env":true}`)
	env, _ := mustSucceed(t, res)["env"].(map[string]any)
	if env == nil {
		t.Fatalf("no env in %s", res.Result)
	}
	if _, ok := env["TINYBASE_TEST_SECRET"]; ok {
		t.Fatal("the worker's environment leaked into the function")
	}
	want := map[string]string{
		"FUNCTION_SETTING": "on",
		"PYTHONUNBUFFERED": "1",
		"PYTHONPATH":       f.sdkDir + ":/opt/extra",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %q", k, env[k], v)
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2})
	fn := f.probe(t)
	const n = 4
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = call(t, r, fn, `{"sleep":0.5}`)
		}()
	}
	wg.Wait()
	pids := make([]int, n)
	for i, res := range results {
		pids[i] = pidOf(t, res)
	}
	seen := map[int]bool{}
	for _, pid := range pids {
		if pid == 0 || seen[pid] {
			t.Fatalf("pids %v: concurrent calls must each get their own process", pids)
		}
		seen[pid] = true
	}
	assertStats(t, r, 2, 0)
	r.Close()
	waitGone(t, pids...)
	assertStats(t, r, 0, 0)
}

func TestDropAndClose(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2})
	fn := f.probe(t)

	// Two warm processes.
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = call(t, r, fn, `{"sleep":0.3}`)
		}()
	}
	wg.Wait()
	pids := []int{pidOf(t, results[0]), pidOf(t, results[1])}
	assertStats(t, r, 2, 0)
	r.Drop(fn.Digest)
	assertStats(t, r, 0, 0)
	waitGone(t, pids...)

	// A process busy during Drop is stopped when its call ends.
	done := make(chan Result, 1)
	go func() { done <- call(t, r, fn, `{"sleep":0.5}`) }()
	waitFor(t, "a busy process", func() bool { _, busy := r.Stats(); return busy == 1 })
	r.Drop(fn.Digest)
	busyPID := pidOf(t, <-done)
	assertStats(t, r, 0, 0)
	waitGone(t, busyPID)

	// Close cancels a call in flight and kills its process.
	go func() { done <- call(t, r, fn, `{"sleep":30}`) }()
	waitFor(t, "a busy process", func() bool { _, busy := r.Stats(); return busy == 1 })
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	res := <-done
	mustFail(t, res, ErrorTypeCancelled)
	<-closed
	r.Close() // safe twice
	assertStats(t, r, 0, 0)
	mustFail(t, call(t, r, fn, `{}`), ErrorTypeCancelled)
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2, KillGrace: 200 * time.Millisecond})
	fn := f.probe(t)
	pid := pidOf(t, call(t, r, fn, `{}`))

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, "a busy process", func() bool { _, busy := r.Stats(); return busy == 1 })
		cancel()
	}()
	res := r.Call(ctx, fn, Request{Payload: json.RawMessage(`{"sleep":30}`), Timeout: time.Minute})
	mustFail(t, res, ErrorTypeCancelled)
	waitGone(t, pid)

	mustFail(t, r.Call(ctx, fn, Request{}), ErrorTypeCancelled)

	// A context deadline counts as a timeout.
	pid = pidOf(t, call(t, r, fn, `{}`))
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res = r.Call(ctx, fn, Request{Payload: json.RawMessage(`{"sleep":30}`)})
	mustFail(t, res, ErrorTypeTimeout)
	waitGone(t, pid)
}

func TestIdleTTL(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 2, IdleTTL: 200 * time.Millisecond})
	fn := f.probe(t)
	pid := pidOf(t, call(t, r, fn, `{}`))
	waitFor(t, "the idle process to be reaped", func() bool { idle, _ := r.Stats(); return idle == 0 })
	waitGone(t, pid)
}

func TestShellFunction(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1})
	fn := f.shell(t, "ok")
	first := pidOf(t, call(t, r, fn, `{"x":1}`))
	if second := pidOf(t, call(t, r, fn, `{"x":2}`)); second != first {
		t.Fatalf("shell function not reused: %d then %d", first, second)
	}
}

func TestProtocolViolations(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		mode, errorType, message string
	}{
		{"garbage", ErrorTypeJSONDecode, "Failed to parse function output: "},
		{"mismatch", ErrorTypeProtocol, `response id "other"`},
		{"badversion", ErrorTypeProtocol, "unsupported function protocol version 2"},
		{"noready", ErrorTypeSubprocess, "exited unexpectedly"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			r := f.runner(t, Options{PoolSize: 2})
			res := call(t, r, f.shell(t, tt.mode), `{}`)
			mustFail(t, res, tt.errorType)
			if !strings.Contains(res.ErrorMessage, tt.message) {
				t.Fatalf("message %q, want it to contain %q", res.ErrorMessage, tt.message)
			}
			if tt.mode == "noready" && !strings.Contains(res.Stderr, "cannot start: missing config") {
				t.Fatalf("stderr %q lacks the process output", res.Stderr)
			}
			assertStats(t, r, 0, 0)
		})
	}
}

func TestInvalidRequests(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{})
	res := r.Call(context.Background(), f.probe(t), Request{Payload: json.RawMessage(`{"unterminated"`)})
	mustFail(t, res, ErrorTypeInvalidRequest)

	for _, fn := range []Function{
		{Name: "missing", Path: filepath.Join(f.dir, "missing.py")},
		f.write(t, "notes.txt", "not a program", 0o644),
	} {
		res = r.Call(context.Background(), fn, Request{})
		mustFail(t, res, ErrorTypeStart)
		if !strings.Contains(res.ErrorMessage, fn.Path) {
			t.Fatalf("message %q does not name the file", res.ErrorMessage)
		}
	}
	assertStats(t, r, 0, 0)
}

func TestImportTimePrint(t *testing.T) {
	f := newFixture(t)
	r := f.runner(t, Options{PoolSize: 1})
	src := "print('loading at import')\n" + probeSource
	fn := f.write(t, "noisy.py", src, 0o644)
	pidOf(t, call(t, r, fn, `{}`))
	if _, err := r.Describe(context.Background(), fn); err != nil {
		t.Fatalf("describe with import-time output: %v", err)
	}
}

func TestUVScripts(t *testing.T) {
	f := newFixture(t)
	// A stand-in for uv that marks the environment and runs python3, so the
	// test sees which command the runner chose.
	binDir := filepath.Join(f.dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeUV := "#!/bin/sh\n[ \"$1 $2\" = \"run --script\" ] || exit 9\nshift 2\nexport RAN_BY_UV=1\nexec python3 \"$@\"\n"
	if err := os.WriteFile(filepath.Join(binDir, "uv"), []byte(fakeUV), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", binDir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	r := f.runner(t, Options{})

	block := "# /// script\n# dependencies = []\n# ///\n"
	tests := []struct {
		name, src string
		wantUV    bool
	}{
		{"script block", block + probeSource, true},
		{"no block", probeSource, false},
		{"unclosed block", "# /// script\n# dependencies = []\n" + probeSource, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := f.write(t, strings.ReplaceAll(tt.name, " ", "_")+".py", tt.src, 0o644)
			env, _ := mustSucceed(t, call(t, r, fn, `{"env":true}`))["env"].(map[string]any)
			if got := env["RAN_BY_UV"] == "1"; got != tt.wantUV {
				t.Fatalf("ran by uv = %v, want %v", got, tt.wantUV)
			}
		})
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		in       string
		max      int
		want     []string
		oversize []bool
	}{
		{"a\nbb\r\n", 10, []string{"a", "bb"}, []bool{false, false}},
		{strings.Repeat("x", 20) + "\nok\n", 10, []string{"", "ok"}, []bool{true, false}},
		{strings.Repeat("y", 200000) + "\nnext\n", 100000, []string{"", "next"}, []bool{true, false}},
	}
	for _, tt := range tests {
		br := bufioReader(tt.in)
		for i := range tt.want {
			got, over, err := readLine(br, tt.max)
			if err != nil || string(got) != tt.want[i] || over != tt.oversize[i] {
				t.Fatalf("line %d: got %q over %v err %v, want %q over %v", i, got, over, err, tt.want[i], tt.oversize[i])
			}
		}
		if _, _, err := readLine(br, tt.max); err == nil {
			t.Fatal("want EOF after the last line")
		}
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 16) }

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		writes []string
		max    int
		want   string
	}{
		{[]string{"abc", "def"}, 10, "abcdef"},
		{[]string{"abcdef", "ghij"}, 4, "ghij"},
		{[]string{"0123456789"}, 3, "789"},
		{[]string{"aé", "b"}, 2, "b"}, // the cut rune is dropped
	}
	for _, tt := range tests {
		tb := &tailBuffer{max: tt.max}
		for _, w := range tt.writes {
			_, _ = tb.Write([]byte(w))
		}
		if got := tb.String(); got != tt.want {
			t.Errorf("%q max %d: got %q, want %q", tt.writes, tt.max, got, tt.want)
		}
	}
}

func TestBuildEnv(t *testing.T) {
	tests := []struct {
		base   []string
		sdk    string
		want   []string
		reason string
	}{
		{nil, "/sdk", []string{"PYTHONPATH=/sdk", "PYTHONUNBUFFERED=1"}, "empty base"},
		{[]string{"A=1", "PYTHONUNBUFFERED=0", "PYTHONPATH=/x"}, "/sdk",
			[]string{"A=1", "PYTHONPATH=/sdk:/x", "PYTHONUNBUFFERED=1"}, "sdk first"},
		{[]string{"A=1"}, "", []string{"A=1", "PYTHONUNBUFFERED=1"}, "no sdk"},
	}
	for _, tt := range tests {
		if got := buildEnv(tt.base, tt.sdk); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: got %q, want %q", tt.reason, got, tt.want)
		}
	}
}

// syncBuffer is an io.Writer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStderrIsLogged(t *testing.T) {
	f := newFixture(t)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := f.runner(t, Options{PoolSize: 1, Logger: logger})
	mustSucceed(t, call(t, r, f.probe(t), `{"stderr":"diagnostic line"}`))
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"function stderr"`) && strings.Contains(line, `"function":"probe"`) &&
			strings.Contains(line, "diagnostic line") {
			found = true
		}
	}
	if !found {
		t.Fatalf("stderr line not logged at debug with the function name:\n%s", logs.String())
	}
}

// TestMain doubles as a worker for TestWorkerDeathKillsFunction.
func TestMain(m *testing.M) {
	if os.Getenv("TB_RUNNER_HELPER") == "1" {
		r := New(Options{SDKDir: os.Getenv("TB_SDK_DIR"), Env: []string{"PATH=" + os.Getenv("PATH")}})
		fn := Function{Name: "probe", Path: os.Getenv("TB_FUNCTION"), Digest: "helper"}
		r.Call(context.Background(), fn, Request{Payload: json.RawMessage(os.Getenv("TB_PAYLOAD"))})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestWorkerDeathKillsFunction(t *testing.T) {
	f := newFixture(t)
	fn := f.probe(t)
	pidFile := filepath.Join(f.dir, "pids")
	payload, _ := json.Marshal(map[string]string{"spawn": pidFile})

	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), "TB_RUNNER_HELPER=1", "TB_SDK_DIR="+f.sdkDir, "TB_FUNCTION="+fn.Path,
		"TB_PAYLOAD="+string(payload))
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the function to start", func() bool { _, err := os.Stat(pidFile); return err == nil })
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var leader, grandchild int
	if _, err := fmt.Sscanf(string(data), "%d %d", &leader, &grandchild); err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	// Pdeathsig reaches the function process itself; what it spawned is
	// only covered by the group kills of timeouts and Close.
	t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })

	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	waitGone(t, leader)
}
