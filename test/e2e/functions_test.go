package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addNumbersPy is the brief's add_numbers example with dataclasses in place
// of Pydantic models.
const addNumbersPy = `# /// script
# dependencies = []
# ///
from dataclasses import dataclass

from tinybase_sdk import register
from tinybase_sdk.cli import run


@dataclass
class AddInput:
    x: int
    y: int


@dataclass
class AddOutput:
    sum: int


@register(name="add_numbers", description="Add two numbers", auth="auth", tags=["math"])
def add_numbers(client, payload: AddInput) -> AddOutput:
    return AddOutput(sum=payload.x + payload.y)


if __name__ == "__main__":
    run()
`

const runawayPy = `import subprocess, time
from tinybase_sdk import register
from tinybase_sdk.cli import run

@register(name="runaway", auth="public")
def runaway(client, payload: dict) -> dict:
    subprocess.Popen(["sleep", "600.777"])
    time.sleep(30)
    return {}

if __name__ == "__main__":
    run()
`

const busyPy = `import time
from tinybase_sdk import register
from tinybase_sdk.cli import run

@register(name="busy", auth="auth")
def busy(client, payload: dict) -> dict:
    time.sleep(float(payload.get("seconds", 3)))
    return {"ok": True}

if __name__ == "__main__":
    run()
`

// TestFunctionAcceptance covers typed payloads, the hard timeout and the
// per-user concurrency limit against a real deployment.
func TestFunctionAcceptance(t *testing.T) {
	dir := initProject(t)
	toml := "[functions]\ntimeout_seconds = 2\n[rate_limit]\nmax_concurrent_functions_per_user = 2\n[worker]\nconcurrency = 12\n"
	if err := os.WriteFile(filepath.Join(dir, "tinybase.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"add_numbers.py": addNumbersPy, "runaway.py": runawayPy, "busy.py": busyPy} {
		if err := os.WriteFile(filepath.Join(dir, "functions", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := serve(t, dir, 1)
	admin := in.login("admin@example.com", "admin12345")
	waitFor(t, 60*time.Second, "functions listed", func() error {
		var fns []map[string]any
		in.do("GET", "/api/functions", admin, nil, &fns)
		if len(fns) < 4 {
			return fmt.Errorf("listed %v", fns)
		}
		return nil
	})

	t.Run("typed payload", func(t *testing.T) {
		var res callResponse
		if code, body := in.do("POST", "/api/functions/add_numbers", admin, map[string]int{"x": 1, "y": 2}, &res); code != 200 ||
			res.Status != "succeeded" || res.Result["sum"] != float64(3) {
			t.Fatalf("add_numbers: %d %s", code, body)
		}
		code, body := in.do("POST", "/api/functions/add_numbers", admin, map[string]any{"x": "a", "y": 2}, nil)
		if code != 422 || !strings.Contains(body, `"field":"x"`) {
			t.Fatalf("bad payload: %d %s", code, body)
		}
		if code, _ := in.do("POST", "/api/functions/add_numbers", "", map[string]int{"x": 1, "y": 2}, nil); code != 401 {
			t.Fatalf("anonymous call of an auth function: %d", code)
		}
	})

	t.Run("timeout kills everything", func(t *testing.T) {
		start := time.Now()
		var res callResponse
		code, body := in.do("POST", "/api/functions/runaway", "", map[string]any{}, &res)
		took := time.Since(start)
		if code != 200 || res.Status != "failed" || res.ErrorType == nil || *res.ErrorType != "TimeoutError" {
			t.Fatalf("runaway: %d %s", code, body)
		}
		if took > 5*time.Second {
			t.Errorf("timeout reported after %s, want within 5s", took)
		}
		waitFor(t, 5*time.Second, "background sleep gone", func() error {
			if left := processesMentioning("600.777"); len(left) > 0 {
				return fmt.Errorf("still running: %v", left)
			}
			return nil
		})
	})

	t.Run("per-user limit", func(t *testing.T) {
		var user struct {
			ID string `json:"id"`
		}
		if code, body := in.do("POST", "/api/admin/users", admin,
			map[string]any{"email": "other@example.com", "password": "other-pass-123"}, &user); code != 201 {
			t.Fatalf("create user: %d %s", code, body)
		}
		other := in.login("other@example.com", "other-pass-123")
		var running, peak, ok, limited atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var res callResponse
				code, _ := in.do("POST", "/api/functions/busy", admin, map[string]any{"seconds": 1.5}, &res)
				switch code {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				}
			}()
		}
		// Watch how many of the admin's calls run at once.
		stop, watched := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				default:
				}
				var page struct {
					Total int `json:"total"`
				}
				in.do("GET", "/api/admin/functions/calls?status=running&function_name=busy", admin, nil, &page)
				n := int64(page.Total)
				running.Store(n)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		var res callResponse
		if code, body := in.do("POST", "/api/functions/busy", other, map[string]any{"seconds": 0}, &res); code != 200 {
			t.Errorf("other user's call: %d %s", code, body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("other user's call delayed %s", d)
		}
		wg.Wait()
		close(stop)
		<-watched
		if ok.Load() != 2 || limited.Load() != 8 {
			t.Errorf("admin calls: %d succeeded, %d limited; want 2 and 8", ok.Load(), limited.Load())
		}
		if peak.Load() > 3 { // the admin's 2 plus, briefly, the other user's call
			t.Errorf("peak running calls %d", peak.Load())
		}
	})
}
