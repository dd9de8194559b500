package python

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func requirePython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	return py
}

// pythonEnv is a minimal environment for python3 with the SDK at sdkDir on
// the path and no bytecode written into the source tree.
func pythonEnv(sdkDir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PYTHONPATH=" + sdkDir,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
	}
}

// TestPythonUnitTests runs tests/test_sdk.py so that `go test` covers the
// SDK's Python code as well.
func TestPythonUnitTests(t *testing.T) {
	py := requirePython(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "unittest", "discover", "-s", "tests", "-v")
	cmd.Dir = wd
	cmd.Env = pythonEnv(wd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python unit tests failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("\nOK")) {
		t.Fatalf("python unit tests did not report OK:\n%s", out)
	}
	t.Logf("%s", lastLines(out, 4))
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "sdk")
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	err := fs.WalkDir(Files(), PackageName, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, name)
		want, _ := fs.ReadFile(Files(), name)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the embedded copy", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"__init__.py", "cli.py", "client.py"} {
		if !contains(names, PackageName+"/"+want) {
			t.Fatalf("embedded files %v lack %s", names, want)
		}
	}

	// Reinstalling restores our files and leaves foreign ones alone.
	ours := filepath.Join(dir, PackageName, "cli.py")
	foreign := filepath.Join(dir, PackageName, "local_helper.py")
	if err := os.WriteFile(ours, []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(ours); bytes.Equal(got, []byte("broken")) {
		t.Fatal("Install did not overwrite its own file")
	}
	if got, err := os.ReadFile(foreign); err != nil || string(got) != "x = 1\n" {
		t.Fatalf("Install touched a foreign file: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, PackageName))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}

	// The installed copy is importable.
	py := requirePython(t)
	cmd := exec.Command(py, "-c", "import tinybase_sdk, tinybase_sdk.cli; print(tinybase_sdk.PROTOCOL_VERSION)")
	cmd.Env = pythonEnv(dir)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("import installed sdk: %v: %s", err, out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestHelloExample(t *testing.T) {
	src := string(HelloExample())
	if !strings.HasPrefix(src, "# /// script\n") || !strings.Contains(src, "# dependencies = []") {
		t.Fatalf("hello.py does not start with a script block:\n%s", src)
	}
	if !strings.HasSuffix(strings.TrimSpace(src), "if __name__ == \"__main__\":\n    run()") {
		t.Fatal("hello.py does not end with the run() trailer")
	}
}

func TestNewFunctionTemplate(t *testing.T) {
	py := requirePython(t)
	sdkDir := t.TempDir()
	if err := Install(sdkDir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, description string
		wantDescription   any
	}{
		{"send_report", "Send the weekly report", "Send the weekly report"},
		{"tricky", "Quotes \" and ''' and \\ and\nnewlines é", "Quotes \" and ''' and \\ and\nnewlines é"},
		{"nodesc", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewFunctionTemplate(tt.name, tt.description)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), tt.name+".py")
			if err := os.WriteFile(path, src, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, path, "--metadata")
			cmd.Env = pythonEnv(sdkDir)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("describe generated file: %v\n%s", err, src)
			}
			var md map[string]any
			if err := json.Unmarshal(out, &md); err != nil {
				t.Fatal(err)
			}
			if md["name"] != tt.name || md["auth"] != "auth" || md["description"] != tt.wantDescription {
				t.Fatalf("metadata %v", md)
			}

			cmd = exec.Command(py, path)
			cmd.Env = pythonEnv(sdkDir)
			cmd.Stdin = strings.NewReader(`{"context": {}, "payload": {"name": "Ada"}}`)
			out, err = cmd.Output()
			if err != nil || string(out) != `{"status":"succeeded","result":{"message":"Hello, Ada!"}}` {
				t.Fatalf("call generated file: %v: %s", err, out)
			}
		})
	}

	for _, bad := range []string{"", "Upper", "1abc", "has-dash", "class", "a b"} {
		if _, err := NewFunctionTemplate(bad, ""); !errors.Is(err, ErrInvalidName) {
			t.Errorf("NewFunctionTemplate(%q) err = %v, want ErrInvalidName", bad, err)
		}
	}
}
