//go:build linux

package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/sdk/python"
)

const isoSource = `import os, subprocess
from tinybase_sdk import register
from tinybase_sdk.cli import run

@register(name="iso", auth="public")
def iso(client, payload: dict) -> dict:
    try:
        open(payload["secret"]).read()
        readable = True
    except OSError:
        readable = False
    subprocess.Popen(["sleep", payload["marker"]], start_new_session=True)
    return {"readable": readable, "uid": os.getuid(), "pid": os.getpid()}

if __name__ == "__main__":
    run()
`

// TestIsolation runs a function as nobody in its own PID namespace: it
// cannot read the worker's private files, and what it starts dies with it.
func TestIsolation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root")
	}
	base, err := os.MkdirTemp("", "tb-iso-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	sdk := filepath.Join(base, "sdk")
	if err := python.Install(sdk); err != nil {
		t.Fatal(err)
	}
	fnPath := filepath.Join(base, "iso.py")
	if err := os.WriteFile(fnPath, []byte(isoSource), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := New(Options{PoolSize: 1, SDKDir: sdk, KillGrace: 500 * time.Millisecond,
		Env:       []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "PYTHONDONTWRITEBYTECODE=1"},
		Isolation: &Isolation{UID: 65534, GID: 65534, NewPIDNamespace: true}})
	marker := "600.4242"
	payload, _ := json.Marshal(map[string]string{"secret": secret, "marker": marker})
	res := r.Call(t.Context(), Function{Name: "iso", Path: fnPath, Digest: "iso"},
		Request{ID: "c1", Payload: payload, Timeout: 30 * time.Second})
	if res.Status != StatusSucceeded {
		t.Fatalf("call: %+v", res)
	}
	var out struct {
		Readable bool `json:"readable"`
		UID      int  `json:"uid"`
		PID      int  `json:"pid"`
	}
	if err := json.Unmarshal(res.Result, &out); err != nil {
		t.Fatal(err)
	}
	if out.Readable || out.UID != 65534 || out.PID != 1 {
		t.Fatalf("not isolated: %+v", out)
	}
	if len(withArg(marker)) == 0 {
		t.Fatal("the function's child is not running")
	}
	r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(withArg(marker)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("child outlived its function: %v", withArg(marker))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withArg lists live processes with arg on their command line.
func withArg(arg string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(data, []byte(arg)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
				continue
			}
		}
		out = append(out, e.Name())
	}
	return out
}
