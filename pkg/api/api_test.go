package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/api"
	"github.com/tinybase/tinybase/pkg/worker"
)

// slowPy sleeps for the requested seconds, then answers.
const slowPy = `from tinybase_sdk import register
from tinybase_sdk.cli import run
import time

@register(name="slow", description="sleeps", auth="public")
def slow(client, payload: dict) -> dict:
    time.sleep(float(payload.get("seconds", 1)))
    return {"slept": payload.get("seconds", 1)}

if __name__ == "__main__":
    run()
`

// client bounds every request so a stuck call fails the test instead of
// hanging it.
var client = &http.Client{Timeout: 60 * time.Second}

type harness struct {
	env  *testenv.Env
	base string
}

func startAPI(t *testing.T, env *testenv.Env) (*testenv.Role, string) {
	return startAPIOn(t, env, testenv.Listen(t))
}

// startAPIOn runs the api on ln and waits until it answers.
func startAPIOn(t *testing.T, env *testenv.Env, ln net.Listener) (*testenv.Role, string) {
	base := "http://" + ln.Addr().String()
	r := env.Start("api", func(ctx context.Context) error {
		return api.Run(ctx, env.Config, api.Options{Logger: testenv.Logger(t, "api"), Listener: ln})
	})
	testenv.WaitFor(t, 20*time.Second, "api up", func() error {
		resp, err := http.Get(base + "/api/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return r, base
}

func startWorker(t *testing.T, env *testenv.Env, id string) *testenv.Role {
	return env.Start(id, func(ctx context.Context) error {
		return worker.Run(ctx, env.Config, worker.Options{ID: id, Logger: testenv.Logger(t, id)})
	})
}

func post(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func get(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func waitListed(t *testing.T, base, name string) {
	testenv.WaitFor(t, 30*time.Second, name+" listed", func() error {
		var fns []map[string]any
		get(t, base+"/api/functions", "", &fns)
		for _, f := range fns {
			if f["name"] == name {
				return nil
			}
		}
		return fmt.Errorf("functions: %v", fns)
	})
}

func login(t *testing.T, base string) string {
	code, out := post(t, base+"/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": "admin12345"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	return out["access_token"].(string)
}

func TestCallThroughWorker(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")

	code, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
	if code != 200 || out["status"] != "succeeded" {
		t.Fatalf("call: %d %v", code, out)
	}
	if res, _ := out["result"].(map[string]any); res["message"] != "Hello, Ada!" {
		t.Fatalf("result: %v", out)
	}
	token := login(t, base)
	var call map[string]any
	if code := get(t, base+"/api/admin/functions/calls/"+out["call_id"].(string), token, &call); code != 200 ||
		call["worker_id"] != "w1" || call["status"] != "succeeded" {
		t.Fatalf("call record: %d %v", code, call)
	}

	// Bad inputs get clear errors and create no call.
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/api/functions/nope", `{}`, 404},
		{"/api/functions/hello", `[1,2]`, 422},
		{"/api/functions/hello", `{"name":`, 422},
	} {
		resp, err := http.Post(base+tc.path, "application/json", bytes.NewReader([]byte(tc.body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s %s: %d, want %d", tc.path, tc.body, resp.StatusCode, tc.want)
		}
	}
	var calls struct {
		Total int `json:"total"`
	}
	get(t, base+"/api/admin/functions/calls", token, &calls)
	if calls.Total != 1 {
		t.Errorf("calls recorded: %d, want 1", calls.Total)
	}
}

// TestAnsweredCallReadsFinished checks that a caller answered before the
// outcome's commit never reads its call back as running, alone or in the
// list, and that the pool view shows the worker that ran it.
func TestAnsweredCallReadsFinished(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	token := login(t, base)
	for i := 0; i < 30; i++ {
		code, out := post(t, base+"/api/functions/hello", token, map[string]string{"name": "Ada"})
		if code != 200 || out["status"] != "succeeded" {
			t.Fatalf("call %d: %d %v", i, code, out)
		}
		id := out["call_id"].(string)
		var call map[string]any
		if code := get(t, base+"/api/functions/calls/"+id, token, &call); code != 200 || call["status"] != "succeeded" {
			t.Fatalf("call %d read right after its answer: %d %v", i, code, call)
		}
	}
	var list struct {
		Calls []map[string]any `json:"calls"`
	}
	get(t, base+"/api/admin/functions/calls?status=running", token, &list)
	if len(list.Calls) != 0 {
		t.Fatalf("calls still running after their answers: %v", list.Calls)
	}
	var pool struct {
		Workers []map[string]any `json:"workers"`
		Hosts   []map[string]any `json:"hosts"`
		Total   int              `json:"total_workers"`
	}
	if code := get(t, base+"/api/admin/workers", token, &pool); code != 200 || pool.Total != 1 ||
		len(pool.Workers) != 1 || pool.Workers[0]["id"] != "w1" || len(pool.Hosts) != 1 {
		t.Fatalf("workers: %d %+v", code, pool)
	}
	if code := get(t, base+"/api/admin/workers", "", nil); code != 401 {
		t.Fatalf("workers without a token: %d, want 401", code)
	}
}

// TestNoWorkerAnswers503 checks that a call is refused at once, not left
// waiting, when no worker is live.
func TestNoWorkerAnswers503(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	w := startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	if err := w.Stop(t); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "503 without workers", func() error {
		start := time.Now()
		code, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
		if code != 503 {
			return fmt.Errorf("status %d %v", code, out)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("503 took %s", d)
		}
		return nil
	})
	startWorker(t, env, "w2")
	testenv.WaitFor(t, 10*time.Second, "calls work again", func() error {
		code, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
		if code != 200 || out["status"] != "succeeded" {
			return fmt.Errorf("%d %v", code, out)
		}
		return nil
	})
}

// TestResultRecordedAcrossAPIRestart checks that a call whose result
// arrives while the api is down is recorded once the api is back.
func TestResultRecordedAcrossAPIRestart(t *testing.T) {
	env := testenv.New(t)
	if err := os.WriteFile(filepath.Join(env.Config.FunctionsDir(), "slow.py"), []byte(slowPy), 0o644); err != nil {
		t.Fatal(err)
	}
	a, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "slow")
	token := login(t, base)

	answered := make(chan string, 1)
	go func() {
		// The api stops while this waits: it answers 503 with the call's id.
		data := []byte(`{"seconds": 2}`)
		resp, err := http.Post(base+"/api/functions/slow", "application/json", bytes.NewReader(data))
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		answered <- fmt.Sprint(resp.StatusCode, " ", body["code"], " ", body["call_id"])
	}()
	var calls struct {
		Calls []map[string]any `json:"calls"`
	}
	testenv.WaitFor(t, 10*time.Second, "call recorded as running", func() error {
		get(t, base+"/api/admin/functions/calls", token, &calls)
		if len(calls.Calls) != 1 {
			return fmt.Errorf("calls: %v", calls.Calls)
		}
		return nil
	})
	if err := a.Stop(t); err != nil {
		t.Fatalf("api stop: %v", err)
	}
	if got, want := <-answered, fmt.Sprint("503 shutting_down ", calls.Calls[0]["id"]); got != want {
		t.Errorf("caller waiting while the api stopped got %q, want %q", got, want)
	}
	time.Sleep(3 * time.Second) // the function finishes while the api is down
	_, base = startAPI(t, env)
	token = login(t, base)
	testenv.WaitFor(t, 20*time.Second, "result recorded after restart", func() error {
		var call map[string]any
		get(t, base+"/api/admin/functions/calls/"+calls.Calls[0]["id"].(string), token, &call)
		if call["status"] != "succeeded" {
			return fmt.Errorf("call: %v", call)
		}
		return nil
	})
}

// TestDrainHandsCallBack checks that a worker stopping with a call still
// running past its drain time hands the call back, and another worker
// completes it.
func TestDrainHandsCallBack(t *testing.T) {
	env := testenv.New(t) // drain_seconds = 5
	if err := os.WriteFile(filepath.Join(env.Config.FunctionsDir(), "slow.py"), []byte(slowPy), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := startAPI(t, env)
	w1 := startWorker(t, env, "w1")
	waitListed(t, base, "slow")
	token := login(t, base)

	done := make(chan map[string]any, 1)
	go func() {
		_, out := post(t, base+"/api/functions/slow", "", map[string]any{"seconds": 7})
		done <- out
	}()
	testenv.WaitFor(t, 10*time.Second, "call running", func() error {
		var calls struct {
			Total int `json:"total"`
		}
		get(t, base+"/api/admin/functions/calls?status=running", token, &calls)
		if calls.Total != 1 {
			return fmt.Errorf("running calls: %d", calls.Total)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // let w1 start the process
	stopped := make(chan error, 1)
	go func() { stopped <- w1.Stop(t) }()
	startWorker(t, env, "w2")
	select {
	case out := <-done:
		if out["status"] != "succeeded" {
			t.Fatalf("handed-back call: %v", out)
		}
		var call map[string]any
		get(t, base+"/api/admin/functions/calls/"+out["call_id"].(string), token, &call)
		if call["worker_id"] != "w2" || call["attempts"].(float64) < 2 {
			t.Fatalf("call record: %v", call)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("handed-back call did not complete")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("w1 stop: %v", err)
	}
}

// TestNewVersionServes edits a function file; calls switch to the new
// version without a restart, and removing the file unlists it.
func TestNewVersionServes(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	if code, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"}); code != 200 ||
		out["result"].(map[string]any)["message"] != "Hello, Ada!" {
		t.Fatalf("v1: %d %v", code, out)
	}
	path := filepath.Join(env.Config.FunctionsDir(), "hello.py")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Replace(src, []byte(`f"Hello, {payload.name}!"`), []byte(`f"Hi, {payload.name}!"`), 1)
	if bytes.Equal(v2, src) {
		t.Fatal("template changed; update this test")
	}
	if err := os.WriteFile(path, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "v2 serving", func() error {
		_, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
		if res, _ := out["result"].(map[string]any); res["message"] != "Hi, Ada!" {
			return fmt.Errorf("answer %v", out)
		}
		return nil
	})
	// Roll back to the first version: it serves again, as a new version.
	token := login(t, base)
	// The same function uploaded under another file name would not be the
	// one served: refused, naming the file that serves it, nothing written.
	code, out := post(t, base+"/api/admin/functions/upload", token,
		map[string]string{"filename": "hello_v3.py", "content": string(src)})
	if code != 400 || !strings.Contains(fmt.Sprint(out["detail"]), "deployed from hello.py") {
		t.Fatalf("upload of hello as hello_v3.py: %d %v", code, out)
	}
	if _, err := os.Stat(filepath.Join(env.Config.FunctionsDir(), "hello_v3.py")); !os.IsNotExist(err) {
		t.Fatalf("hello_v3.py written: %v", err)
	}
	var vers []map[string]any
	if code := get(t, base+"/api/admin/functions/hello/versions", token, &vers); code != 200 || len(vers) != 2 {
		t.Fatalf("versions: %d %v", code, vers)
	}
	first := vers[1]["id"].(string)
	if code, out := post(t, base+"/api/admin/functions/hello/versions/"+first+"/rollback", token, nil); code != 200 ||
		out["is_new_version"] != true {
		t.Fatalf("rollback: %d %v", code, out)
	}
	testenv.WaitFor(t, 30*time.Second, "v1 serving again", func() error {
		_, out := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
		if res, _ := out["result"].(map[string]any); res["message"] != "Hello, Ada!" {
			return fmt.Errorf("answer %v", out)
		}
		return nil
	})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "hello unlisted", func() error {
		code, _ := post(t, base+"/api/functions/hello", "", map[string]string{"name": "Ada"})
		if code != 404 {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
}

// TestWrongMethod checks that a known path asked with another method is
// 405 with Allow, and an unknown path is still 404.
func TestWrongMethod(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	token := login(t, base)
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"PUT", "/api/admin/activity", 405, "GET, HEAD"},
		{"GET", "/api/functions/hello", 405, "POST"},
		{"DELETE", "/api/collections", 405, "GET, HEAD, POST"},
		{"GET", "/api/nothing/here", 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q: %s", tc.method, tc.path, resp.StatusCode,
				resp.Header.Get("Allow"), tc.want, tc.allow, body)
		}
	}
}
