// Package e2e runs the real tinybase binary: it builds it once, starts
// `tinybase serve` on random loopback ports in temporary folders and talks
// HTTP and NATS to it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tinybase-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tinybase")
	build := exec.Command("go", "build", "-o", binary, "./cmd/tinybase")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tinybase:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs the binary to completion and returns its combined output.
func run(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// initProject runs tinybase init in a new temp folder.
func initProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := run(t, dir, nil, "init", "--admin-email", "admin@example.com", "--admin-password", "admin12345")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	return dir
}

// syncBuffer is a goroutine-safe log sink.
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

// instance is a running `tinybase serve`.
type instance struct {
	t        *testing.T
	dir      string
	httpPort int
	busPort  int
	env      []string
	cmd      *exec.Cmd
	log      *syncBuffer
	done     chan struct{}
	exitErr  error
}

func (in *instance) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.httpPort, path)
}

// serve starts the supervisor and waits until the API answers.
func serve(t *testing.T, dir string, workers int) *instance {
	t.Helper()
	in := &instance{t: t, dir: dir, httpPort: freePort(t), busPort: freePort(t), log: &syncBuffer{},
		done: make(chan struct{})}
	in.env = []string{
		"TINYBASE_SERVER_HOST=127.0.0.1",
		"TINYBASE_SERVER_PORT=" + strconv.Itoa(in.httpPort),
		"TINYBASE_BUS_PORT=" + strconv.Itoa(in.busPort),
	}
	in.cmd = exec.Command(binary, "serve", "--workers", strconv.Itoa(workers))
	in.cmd.Dir = dir
	in.cmd.Env = append(os.Environ(), in.env...)
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		in.exitErr = in.cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("tinybase serve log:\n%s", in.log.String())
		}
	})
	waitFor(t, 60*time.Second, "api healthy", func() error {
		select {
		case <-in.done:
			return fmt.Errorf("serve exited: %v", in.exitErr)
		default:
		}
		resp, err := http.Get(in.url("/api/health"))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return in
}

// waitFor polls fn until it returns nil or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", d, what, err)
}

// do sends a JSON request and decodes a JSON answer into out (if non-nil).
func (in *instance) do(method, path, token string, body any, out any) (int, string) {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				in.t.Fatal(err)
			}
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequest(method, in.url(path), rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			in.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, string(data)
}

// login returns an admin access token.
func (in *instance) login(email, password string) string {
	in.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	code, body := in.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}, &out)
	if code != 200 || out.AccessToken == "" {
		in.t.Fatalf("login: %d %s", code, body)
	}
	return out.AccessToken
}

type roleStatus struct {
	Role string `json:"role"`
	ID   string `json:"id"`
	PID  int    `json:"pid"`
}

// status runs `tinybase status --json`.
func (in *instance) status() ([]roleStatus, error) {
	out, err := run(in.t, in.dir, in.env, "status", "--json")
	if err != nil {
		return nil, fmt.Errorf("status: %v: %s", err, out)
	}
	var st struct {
		Roles []roleStatus `json:"roles"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("status output %q: %v", out, err)
	}
	return st.Roles, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised command name.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// processesMentioning lists live pids whose command line contains s: the
// roles started in a project folder and the function processes under it.
func processesMentioning(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte(s)) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
