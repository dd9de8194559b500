package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const slowPy = `from tinybase_sdk import register
from tinybase_sdk.cli import run
import time

@register(name="slow", description="sleeps, then answers", auth="public")
def slow(client, payload: dict) -> dict:
    time.sleep(float(payload.get("seconds", 1)))
    return {"slept": payload.get("seconds", 1)}

if __name__ == "__main__":
    run()
`

type liveRole struct {
	Role     string `json:"role"`
	ID       string `json:"id"`
	PID      int    `json:"pid"`
	InFlight int    `json:"in_flight"`
}

// TestWorkerCrashMidCall kills the worker running a call; the call is
// redelivered to the other worker and still succeeds.
func TestWorkerCrashMidCall(t *testing.T) {
	dir := initProject(t)
	if err := os.WriteFile(filepath.Join(dir, "functions", "slow.py"), []byte(slowPy), 0o644); err != nil {
		t.Fatal(err)
	}
	in := serve(t, dir, 2)
	waitFor(t, 60*time.Second, "slow callable", func() error {
		code, body := in.do("POST", "/api/functions/slow", "", map[string]any{"seconds": 0}, nil)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})

	done := make(chan callResponse, 1)
	go func() {
		var res callResponse
		in.do("POST", "/api/functions/slow", "", map[string]any{"seconds": 3}, &res)
		done <- res
	}()
	var busy liveRole
	waitFor(t, 10*time.Second, "a worker busy with the call", func() error {
		out, err := run(t, in.dir, in.env, "status", "--json")
		if err != nil {
			return err
		}
		var st struct {
			Roles []liveRole `json:"roles"`
		}
		if err := jsonUnmarshal([]byte(out), &st); err != nil {
			return err
		}
		for _, r := range st.Roles {
			if r.Role == "worker" && r.InFlight > 0 {
				busy = r
				return nil
			}
		}
		return fmt.Errorf("no busy worker: %s", out)
	})
	if err := syscall.Kill(busy.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.Status != "succeeded" {
			t.Fatalf("call after worker crash: %+v", res)
		}
		token := in.login("admin@example.com", "admin12345")
		var call map[string]any
		in.do("GET", "/api/admin/functions/calls/"+res.CallID, token, nil, &call)
		if call["status"] != "succeeded" || call["attempts"].(float64) < 2 {
			t.Fatalf("call record: %v", call)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("call lost after the worker running it was killed")
	}
}

// TestRolesRestartAfterKill kills the api and the scheduler with -9; the
// supervisor brings both back and the API answers again.
func TestRolesRestartAfterKill(t *testing.T) {
	dir := initProject(t)
	in := serve(t, dir, 1)
	var roles []roleStatus
	waitFor(t, 30*time.Second, "roles up", func() error {
		var err error
		roles, err = in.status()
		if err != nil {
			return err
		}
		return checkRoles(roles, 1)
	})
	old := map[string]int{}
	for _, r := range roles {
		old[r.Role] = r.PID
	}
	for _, role := range []string{"api", "scheduler"} {
		if err := syscall.Kill(old[role], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "api and scheduler replaced", func() error {
		roles, err := in.status()
		if err != nil {
			return err
		}
		if err := checkRoles(roles, 1); err != nil {
			return err
		}
		for _, r := range roles {
			if (r.Role == "api" || r.Role == "scheduler") && r.PID == old[r.Role] {
				return fmt.Errorf("%s still has pid %d", r.Role, r.PID)
			}
		}
		return nil
	})
	waitFor(t, 30*time.Second, "hello callable after api restart", func() error {
		code, body := in.do("POST", "/api/functions/hello", "", map[string]string{"name": "Ada"}, nil)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	token := in.login("admin@example.com", "admin12345")
	if code, _ := in.do("GET", "/api/auth/me", token, nil, nil); code != 200 {
		t.Fatalf("me after restart: %d", code)
	}
}
