package gofunc

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/runner"
	"github.com/tinybase/tinybase/pkg/sdk"
)

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not installed")
	}
}

// TestNewBuildRun creates function folders, builds them with go build and
// runs the binaries through the runner. "log" checks that a function named
// like a standard library package still builds.
func TestNewBuildRun(t *testing.T) {
	needGo(t)
	functions := t.TempDir()
	r := runner.New(runner.Options{PoolSize: 1, KillGrace: 500 * time.Millisecond,
		Env: []string{"PATH=" + os.Getenv("PATH")}})
	t.Cleanup(r.Close)
	for _, name := range []string{"greet", "log"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(functions, name)
			if err := New(dir, name, `Says "hello"`); err != nil {
				t.Fatal(err)
			}
			for file := range sdk.Source() {
				data, err := os.ReadFile(filepath.Join(dir, SDKDir, file))
				if err != nil || !strings.HasPrefix(string(data), "// Code generated") {
					t.Fatalf("sdk copy %s: %v", file, err)
				}
			}
			out := BinaryPath(dir)
			if err := Build(context.Background(), dir, out, BuildOptions{}); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(out)
			if err != nil || info.Mode().Perm() != 0o755 {
				t.Fatalf("binary %s: %v %v", out, info.Mode(), err)
			}
			fn := runner.Function{Name: name, Path: out}
			md, err := r.Describe(context.Background(), fn)
			if err != nil {
				t.Fatal(err)
			}
			if md.Name != name || md.Description != `Says "hello"` || md.Auth != "auth" {
				t.Fatalf("metadata %+v", md)
			}
			res := r.Call(context.Background(), fn, runner.Request{Payload: json.RawMessage(`{"name":"Ada"}`),
				Timeout: 20 * time.Second})
			if res.Status != runner.StatusSucceeded || string(res.Result) != `{"message":"Hello, Ada!"}` {
				t.Fatalf("call: %+v", res)
			}
			res = r.Call(context.Background(), fn, runner.Request{Payload: json.RawMessage(`{"name":1}`),
				Timeout: 20 * time.Second})
			if res.ErrorType != "ValidationError" {
				t.Fatalf("call with a bad payload: %+v", res)
			}
		})
	}
	// go vet's stdversion check fails when the SDK uses library API newer
	// than the go line of the generated go.mod.
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = filepath.Join(functions, "greet")
	vet.Env = append(os.Environ(), "GOWORK=off")
	if out, err := vet.CombinedOutput(); err != nil {
		t.Fatalf("go vet of the generated folder: %v\n%s", err, out)
	}
	dirs, err := FunctionDirs(functions)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("FunctionDirs = %v, %v", dirs, err)
	}
}

func TestNewRefusesExisting(t *testing.T) {
	functions := t.TempDir()
	dir := filepath.Join(functions, "taken")
	if err := os.WriteFile(BinaryPath(dir), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := New(dir, "taken", ""); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("New created the folder anyway")
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	needGo(t)
	dir := filepath.Join(t.TempDir(), "broken")
	if err := New(dir, "broken", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	err := Build(context.Background(), dir, BinaryPath(dir), BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(BinaryPath(dir)); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("a failed build left a binary")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".broken.bin.tmp*"))
	if len(leftovers) != 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}
	if err := Build(context.Background(), t.TempDir(), "x", BuildOptions{}); !errors.Is(err, ErrNotFunction) {
		t.Fatalf("err = %v, want ErrNotFunction", err)
	}
}
