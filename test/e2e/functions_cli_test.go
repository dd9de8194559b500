package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFunctionsCLI creates a Python and a Go function with the CLI, builds
// the Go one, serves the project and lists and calls both through the CLI,
// which finds the instance from the project's configuration.
func TestFunctionsCLI(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not installed")
	}
	dir := initProject(t)
	cli := func(env []string, args ...string) (string, error) {
		t.Helper()
		return run(t, dir, env, append([]string{"functions"}, args...)...)
	}
	mustCLI := func(env []string, args ...string) string {
		t.Helper()
		out, err := cli(env, args...)
		if err != nil {
			t.Fatalf("tinybase functions %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	mustCLI(nil, "new", "greet_py", "-d", "Python greeting")
	mustCLI(nil, "new", "greet_go", "--lang", "go", "-d", "Go greeting")
	if out, err := cli(nil, "new", "greet_go", "--lang", "python"); err == nil ||
		!strings.Contains(out, `function "greet_go" already exists`) {
		t.Fatalf("new with a taken name: %v\n%s", err, out)
	}
	// A Go function whose folder is not built yet is not a function file.
	out := mustCLI(nil, "build")
	if !strings.Contains(out, "greet_go.bin") {
		t.Fatalf("build output:\n%s", out)
	}
	info, err := os.Stat(filepath.Join(dir, "functions", "greet_go.bin"))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("built binary: %v", err)
	}

	in := serve(t, dir, 1)
	// Sign-ins are rate limited per address, so most commands use a token;
	// one signs in with email and password.
	token := in.login("admin@example.com", "admin12345")
	admin := append(in.env[:len(in.env):len(in.env)], "TINYBASE_API_TOKEN="+token)
	signIn := append(in.env[:len(in.env):len(in.env)],
		"TINYBASE_API_EMAIL=admin@example.com", "TINYBASE_API_PASSWORD=admin12345")

	waitFor(t, 60*time.Second, "both functions listed", func() error {
		out, err := cli(admin, "list")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, want := range []string{"greet_py", "greet_go", "Go greeting", "hello"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("list lacks %s:\n%s", want, out)
			}
		}
		return nil
	})
	if out := mustCLI(signIn, "list"); !strings.Contains(out, "greet_go") {
		t.Fatalf("list after signing in:\n%s", out)
	}
	// Anonymous callers see only public functions.
	if out := mustCLI(in.env, "list"); strings.Contains(out, "greet_go") || !strings.Contains(out, "hello") {
		t.Fatalf("anonymous list:\n%s", out)
	}

	for _, name := range []string{"greet_go", "greet_py"} {
		out := mustCLI(admin, "call", name, "--data", `{"name":"Ada"}`)
		var res map[string]string
		if err := json.Unmarshal([]byte(out), &res); err != nil || res["message"] != "Hello, Ada!" {
			t.Fatalf("call %s: %q (%v)", name, out, err)
		}
		out, err := cli(admin, "call", name, "--data", `{"name":1}`)
		if err == nil || !strings.Contains(out, "name") {
			t.Fatalf("call %s with a bad payload: %v\n%s", name, err, out)
		}
	}
	out = mustCLI(admin, "call", "greet_go", "--json")
	if !strings.Contains(out, `"call_id"`) || !strings.Contains(out, `"Hello, World!"`) {
		t.Fatalf("call --json:\n%s", out)
	}
	if out, err := cli(in.env, "call", "greet_go"); err == nil || !strings.Contains(out, "HTTP 401") ||
		!strings.Contains(out, "--token") {
		t.Fatalf("anonymous call of an auth function: %v\n%s", err, out)
	}
	if out, err := cli(nil, "list", "--url", "http://127.0.0.1:1"); err == nil ||
		!strings.Contains(out, "nothing answers at http://127.0.0.1:1/api") {
		t.Fatalf("list against nothing: %v\n%s", err, out)
	}

	t.Run("deploy", func(t *testing.T) {
		staging := t.TempDir()
		src := strings.ReplaceAll(string(mustRead(t, filepath.Join(dir, "functions", "greet_py.py"))),
			"greet_py", "added")
		file := filepath.Join(staging, "added.py")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := cli(admin, "deploy", file, "-n", "e2e")
		if err != nil || !strings.Contains(out, "[1/1]") || !strings.Contains(out, "new version") {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		waitFor(t, 60*time.Second, "the deployed function", func() error {
			out, err := cli(admin, "call", "added", "--data", `{"name":"Bo"}`)
			if err != nil || !strings.Contains(out, "Hello, Bo!") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		out = mustCLI(admin, "versions", "added")
		if !strings.Contains(out, "VERSION") || !strings.Contains(out, "admin@example.com") ||
			!strings.Contains(out, "e2e") {
			t.Fatalf("versions:\n%s", out)
		}
		if out, err := cli(admin, "deploy", file); err != nil || !strings.Contains(out, "unchanged") {
			t.Fatalf("deploy of the same content: %v\n%s", err, out)
		}
		if out, err := cli(in.env, "deploy", file); err == nil || !strings.Contains(out, "HTTP 401") {
			t.Fatalf("anonymous deploy: %v\n%s", err, out)
		}
	})

	t.Run("deploy Go", func(t *testing.T) {
		// The built binary is not UTF-8, so it travels base64-encoded.
		out, err := cli(admin, "deploy", filepath.Join(dir, "functions", "greet_go"), "-n", "go")
		if err != nil || !strings.Contains(out, "greet_go.bin") {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		out = mustCLI(admin, "versions", "greet_go")
		if !strings.Contains(out, "VERSION") {
			t.Fatalf("versions:\n%s", out)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
