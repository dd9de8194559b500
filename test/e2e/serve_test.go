package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

type callResponse struct {
	CallID       string         `json:"call_id"`
	Status       string         `json:"status"`
	Result       map[string]any `json:"result"`
	ErrorMessage *string        `json:"error_message"`
	ErrorType    *string        `json:"error_type"`
	DurationMS   int64          `json:"duration_ms"`
}

// callHello calls the example function and checks its answer.
func callHello(t *testing.T, in *instance, name string) callResponse {
	t.Helper()
	var res callResponse
	code, body := in.do("POST", "/api/functions/hello", "", map[string]string{"name": name}, &res)
	if code != 200 {
		t.Fatalf("call hello: %d %s", code, body)
	}
	if res.Status != "succeeded" || res.CallID == "" || res.Result["message"] != "Hello, "+name+"!" {
		t.Fatalf("call hello: unexpected answer %s", body)
	}
	return res
}

func TestInitLayoutAndRerun(t *testing.T) {
	dir := initProject(t)
	for _, f := range []string{"tinybase.toml", "tinybase.db", "functions/hello.py",
		"functions/tinybase_sdk/__init__.py", ".tinybase/secrets.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not create %s: %v", f, err)
		}
	}
	info, err := os.Stat(filepath.Join(dir, ".tinybase", "secrets.json"))
	if err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json mode = %v, want 0600", info.Mode().Perm())
	}
	toml, _ := os.ReadFile(filepath.Join(dir, "tinybase.toml"))
	secrets, _ := os.ReadFile(filepath.Join(dir, ".tinybase", "secrets.json"))
	if strings.Contains(string(toml), "password") && strings.Contains(string(toml), "bus_password") {
		t.Error("tinybase.toml holds secrets")
	}

	out, err := run(t, dir, nil, "init", "--admin-email", "admin@example.com", "--admin-password", "admin12345")
	if err == nil || !strings.Contains(out, "already initialised") || !strings.Contains(out, "--force") {
		t.Fatalf("second init: err=%v out=%s", err, out)
	}
	out, err = run(t, dir, nil, "init", "--force", "--admin-email", "admin@example.com", "--admin-password", "admin12345")
	if err != nil {
		t.Fatalf("init --force: %v\n%s", err, out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ".tinybase", "secrets.json"))
	if string(after) != string(secrets) {
		t.Error("init --force replaced the generated secrets")
	}

	out, err = run(t, dir, nil, "config", "check")
	if err != nil {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	var sec struct {
		BusPassword string `json:"bus_password"`
	}
	_ = jsonUnmarshal(secrets, &sec)
	if sec.BusPassword == "" || strings.Contains(out, sec.BusPassword) {
		t.Errorf("config check leaks or lacks the bus password:\n%s", out)
	}
}

func TestStartupFailures(t *testing.T) {
	empty := t.TempDir()
	out, err := run(t, empty, nil, "serve")
	if err == nil || !strings.Contains(out, "run tinybase init first") {
		t.Errorf("serve in empty folder: err=%v out=%s", err, out)
	}

	dir := initProject(t)
	bad := "[server]\nport = \"eighty\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tinybase.toml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, dir, nil, "serve")
	if err == nil || !strings.Contains(out, "tinybase.toml") || !strings.Contains(out, "server.port") {
		t.Errorf("serve with bad config: err=%v out=%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "tinybase.toml"), []byte("[server]\nport = 70000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, dir, nil, "serve")
	if err == nil || !strings.Contains(out, "server.port") || !strings.Contains(out, "70000") {
		t.Errorf("serve with out-of-range port: err=%v out=%s", err, out)
	}
	out, err = run(t, dir, []string{"TINYBASE_SERVER_PORT=abc"}, "serve")
	if err == nil || !strings.Contains(out, "TINYBASE_SERVER_PORT") {
		t.Errorf("serve with bad env: err=%v out=%s", err, out)
	}

	if err := os.WriteFile(filepath.Join(dir, "tinybase.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	taken := freePort(t)
	l, err := netListen(taken)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err = run(t, dir, []string{"TINYBASE_SERVER_HOST=127.0.0.1", fmt.Sprintf("TINYBASE_SERVER_PORT=%d", taken),
		fmt.Sprintf("TINYBASE_BUS_PORT=%d", freePort(t))}, "serve")
	if err == nil || !strings.Contains(out, fmt.Sprint(taken)) || !strings.Contains(out, "in use") {
		t.Errorf("serve with taken http port: err=%v out=%s", err, out)
	}
	out, err = run(t, dir, []string{"TINYBASE_SERVER_HOST=127.0.0.1", fmt.Sprintf("TINYBASE_SERVER_PORT=%d", freePort(t)),
		fmt.Sprintf("TINYBASE_BUS_PORT=%d", taken)}, "serve")
	if err == nil || !strings.Contains(out, "bus port") || !strings.Contains(out, fmt.Sprint(taken)) {
		t.Errorf("serve with taken bus port: err=%v out=%s", err, out)
	}
}

// TestServe walks the whole path a user takes: serve, status, login,
// collections and records, a function call through a worker, a worker
// killed and replaced, and an orderly stop.
func TestServe(t *testing.T) {
	dir := initProject(t)
	in := serve(t, dir, 2)

	var roles []roleStatus
	waitFor(t, 30*time.Second, "api, scheduler and two workers in status", func() error {
		var err error
		roles, err = in.status()
		if err != nil {
			return err
		}
		return checkRoles(roles, 2)
	})
	workerPID := map[string]int{}
	for _, r := range roles {
		if r.Role == "worker" {
			workerPID[r.ID] = r.PID
		}
	}

	token := in.login("admin@example.com", "admin12345")
	var me map[string]any
	if code, body := in.do("GET", "/api/auth/me", token, nil, &me); code != 200 || me["email"] != "admin@example.com" || me["is_admin"] != true {
		t.Fatalf("me: %d %s", code, body)
	}
	if code, _ := in.do("GET", "/api/auth/me", "", nil, nil); code != 401 {
		t.Errorf("me without token: %d, want 401", code)
	}

	schema := map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "stars", "type": "integer", "min": 0},
	}}
	if code, body := in.do("POST", "/api/collections", token,
		map[string]any{"name": "notes", "label": "Notes", "schema": schema}, nil); code != 201 {
		t.Fatalf("create collection: %d %s", code, body)
	}
	if code, _ := in.do("POST", "/api/collections", "",
		map[string]any{"name": "other", "label": "Other", "schema": schema}, nil); code != 401 {
		t.Errorf("create collection anonymously: %d, want 401", code)
	}
	var rec struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	}
	if code, body := in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "first", "stars": 5}}, &rec); code != 201 || rec.ID == "" {
		t.Fatalf("create record: %d %s", code, body)
	}
	if code, body := in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"stars": -1}}, nil); code != 400 || !strings.Contains(body, "Validation error") {
		t.Errorf("invalid record: %d %s", code, body)
	}
	var page struct {
		Records []map[string]any `json:"records"`
		Total   int              `json:"total"`
	}
	if code, body := in.do("GET", "/api/collections/notes/records", "", nil, &page); code != 200 || page.Total != 1 {
		t.Fatalf("list records: %d %s", code, body)
	}

	waitFor(t, 60*time.Second, "hello listed", func() error {
		var fns []map[string]any
		code, body := in.do("GET", "/api/functions", "", nil, &fns)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		for _, f := range fns {
			if f["name"] == "hello" {
				return nil
			}
		}
		return fmt.Errorf("not listed yet: %s", body)
	})
	res := callHello(t, in, "Ada")
	var call map[string]any
	if code, body := in.do("GET", "/api/admin/functions/calls/"+res.CallID, token, nil, &call); code != 200 ||
		call["status"] != "succeeded" || call["worker_id"] == nil || call["worker_id"] == "" {
		t.Fatalf("call record: %d %s", code, body)
	}

	// A client without the generated credentials is refused by the bus.
	if nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", in.busPort), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("bus accepted a client without credentials")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("bus refusal: %v", err)
	}

	// Kill one worker; the supervisor starts a replacement with the same id.
	victim := "worker-1"
	if err := syscall.Kill(workerPID[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "worker-1 replaced", func() error {
		roles, err := in.status()
		if err != nil {
			return err
		}
		for _, r := range roles {
			if r.Role == "worker" && r.ID == victim && r.PID != workerPID[victim] && alive(r.PID) {
				return checkRoles(roles, 2)
			}
		}
		return fmt.Errorf("not yet: %+v", roles)
	})
	if !strings.Contains(in.log.String(), "restarting") {
		t.Error("the restart was not logged")
	}
	for i := 0; i < 4; i++ {
		callHello(t, in, fmt.Sprintf("Ada %d", i))
	}

	// An orderly stop exits 0 and leaves nothing running.
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s of SIGTERM")
	}
	if in.exitErr != nil {
		t.Fatalf("serve exit: %v", in.exitErr)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Fatalf("processes left after SIGTERM: %v", left)
	}
}

// TestKillSupervisor checks that kill -9 of the supervisor takes every
// role and function process with it.
func TestKillSupervisor(t *testing.T) {
	dir := initProject(t)
	in := serve(t, dir, 2)
	waitFor(t, 30*time.Second, "roles up", func() error {
		roles, err := in.status()
		if err != nil {
			return err
		}
		return checkRoles(roles, 2)
	})
	waitFor(t, 60*time.Second, "hello callable", func() error {
		code, body := in.do("POST", "/api/functions/hello", "", map[string]string{"name": "Ada"}, nil)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if len(processesMentioning(dir)) < 4 {
		t.Fatalf("expected role and function processes, found %v", processesMentioning(dir))
	}
	if err := in.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-in.done
	waitFor(t, 10*time.Second, "no processes left", func() error {
		if left := processesMentioning(dir); len(left) > 0 {
			return fmt.Errorf("still running: %v", left)
		}
		return nil
	})
}

// checkRoles wants one api, one scheduler and n workers, all with
// distinct live pids.
func checkRoles(roles []roleStatus, n int) error {
	count := map[string]int{}
	pids := map[int]bool{}
	for _, r := range roles {
		count[r.Role]++
		if pids[r.PID] || !alive(r.PID) {
			return fmt.Errorf("pid %d repeated or dead: %+v", r.PID, roles)
		}
		pids[r.PID] = true
	}
	if count["api"] != 1 || count["scheduler"] != 1 || count["worker"] != n {
		return fmt.Errorf("roles %v, want 1 api, 1 scheduler, %d workers", count, n)
	}
	return nil
}
