package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/worker"
)

const napPy = `from tinybase_sdk import register
from tinybase_sdk.cli import run
import time

@register(name="nap", description="sleeps", auth="public")
def nap(client, payload: dict) -> dict:
    time.sleep(float(payload.get("seconds", 1)))
    return {"slept": payload.get("seconds", 1)}

if __name__ == "__main__":
    run()
`

// TestFunctionTimeoutSetting changes core.scheduler.function_timeout_seconds
// at run time and checks that the next call is stopped by the new limit.
func TestFunctionTimeoutSetting(t *testing.T) {
	env := testenv.New(t)
	if err := os.WriteFile(filepath.Join(env.Config.FunctionsDir(), "nap.py"), []byte(napPy), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAccounts(t, env)
	env.Start("w1", func(ctx context.Context) error {
		return worker.Run(ctx, env.Config, worker.Options{ID: "w1", Logger: testenv.Logger(t, "w1")})
	})
	testenv.WaitFor(t, 60*time.Second, "nap callable", func() error {
		if r := a.call("POST", "/api/functions/nap", "", map[string]any{"seconds": 0}); r.str("status") != "succeeded" {
			return fmt.Errorf("%d %s", r.code, r.raw)
		}
		return nil
	})
	root := a.admin()
	a.call("PATCH", "/api/admin/settings", root.access, map[string]any{"core.scheduler.function_timeout_seconds": 1}).
		must(t, 200, "lower the timeout")
	start := time.Now()
	r := a.call("POST", "/api/functions/nap", "", map[string]any{"seconds": 5}).must(t, 200, "call past the timeout")
	if r.str("status") != "failed" || r.str("error_type") != "TimeoutError" {
		t.Fatalf("call past the new timeout: %s", r.raw)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the call ran %v; the 1 s setting did not apply", d)
	}
}
