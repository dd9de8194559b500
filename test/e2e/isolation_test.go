package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const snoopPy = `import os
from tinybase_sdk import register
from tinybase_sdk.cli import run

def readable(path):
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False

@register(name="snoop", description="tries to read what it must not", auth="public")
def snoop(client, payload: dict) -> dict:
    parent = os.getppid()
    return {
        "secrets": readable(payload["secrets"]),
        "database": readable(payload["database"]),
        "database_wal": readable(payload["database"] + "-wal"),
        "database_shm": readable(payload["database"] + "-shm"),
        "config": readable(payload["config"]),
        "parent_environ": readable("/proc/%d/environ" % parent) if parent > 1 else False,
        "env": sorted(os.environ.keys()),
        "token": client.token if hasattr(client, "token") else None,
        "me": me(client),
    }

def me(client):
    try:
        return client.get("/auth/me").get("email")
    except Exception as exc:
        return "error: %s" % exc

if __name__ == "__main__":
    run()
`

// TestFunctionCannotReachSecrets runs a function that tries to read the
// project's secrets and database, and the worker's environment.
func TestFunctionCannotReachSecrets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("function isolation needs the worker to run as root")
	}
	dir := initProject(t)
	if err := os.WriteFile(filepath.Join(dir, "functions", "snoop.py"), []byte(snoopPy), 0o644); err != nil {
		t.Fatal(err)
	}
	in := serve(t, dir, 1)
	var res struct {
		Status string         `json:"status"`
		Result map[string]any `json:"result"`
	}
	payload := map[string]string{
		"secrets":  filepath.Join(dir, ".tinybase", "secrets.json"),
		"database": filepath.Join(dir, "tinybase.db"),
		"config":   filepath.Join(dir, "tinybase.toml"),
	}
	waitFor(t, 60*time.Second, "snoop callable", func() error {
		code, body := in.do("POST", "/api/functions/snoop", "", payload, &res)
		if code != 200 || res.Status != "succeeded" {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	// Make sure the WAL exists and holds data before looking.
	if _, err := os.Stat(filepath.Join(dir, "tinybase.db-wal")); err != nil {
		t.Errorf("no WAL file to try: %v", err)
	}
	for _, k := range []string{"secrets", "database", "database_wal", "database_shm", "config", "parent_environ"} {
		if res.Result[k] != false {
			t.Errorf("function could read %s: %v", k, res.Result)
		}
	}
	// The call token acts for the caller during the call, and not after.
	token := in.login("admin@example.com", "admin12345")
	if code, body := in.do("POST", "/api/functions/snoop", token, payload, &res); code != 200 {
		t.Fatalf("snoop as admin: %d %s", code, body)
	}
	if res.Result["me"] != "admin@example.com" {
		t.Errorf("call token did not act for the caller during the call: %v", res.Result["me"])
	}
	callToken, _ := res.Result["token"].(string)
	if callToken == "" {
		t.Fatal("no call token passed to the function")
	}
	if code, _ := in.do("GET", "/api/auth/me", callToken, nil, nil); code != 401 {
		t.Errorf("call token still accepted after the call: %d", code)
	}
	for _, k := range res.Result["env"].([]any) {
		switch k {
		case "PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE":
		default:
			t.Errorf("function sees environment variable %v", k)
		}
	}
}
