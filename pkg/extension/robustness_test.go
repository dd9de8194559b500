package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// A value stored while the extension was not installed (keys are then
// free-form) must not reach it after an install: it gets the default, the
// key is logged, and uninstall deletes what it stored.
func TestInvalidStoredSettingGetsDefault(t *testing.T) {
	var buf syncBuf
	f := newFixture(t, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	ctx := context.Background()
	if _, _, err := f.set.Update(ctx, map[string]json.RawMessage{
		"ext.wordfilter.words": json.RawMessage(`"free-form now"`)}); err != nil {
		t.Fatal(err)
	}
	f.install(wordfilterBin, "")
	d := f.m.Before(ctx, createReq("notes", map[string]any{"title": "a forbidden word"}))
	if !d.Refused || d.Status != 400 {
		t.Fatalf("create with an invalid stored setting: %+v", d)
	}
	resp, err := f.m.Route(ctx, "wordfilter", &extv1.RouteRequest{Method: "GET", Path: "/words"})
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"words":["forbidden"]}` {
		t.Fatalf("route with an invalid stored setting: %v %v", resp, err)
	}
	if log := buf.String(); !strings.Contains(log, `"key":"ext.wordfilter.words"`) ||
		!strings.Contains(log, `"level":"WARN"`) {
		t.Fatalf("invalid stored setting not logged:\n%s", log)
	}
	// A valid value is used as before.
	if _, _, err := f.set.Update(ctx, map[string]json.RawMessage{
		"ext.wordfilter.words": json.RawMessage(`["spam"]`)}); err != nil {
		t.Fatal(err)
	}
	if d := f.m.Before(ctx, createReq("notes", map[string]any{"title": "spam"})); !d.Refused {
		t.Fatalf("valid setting not used: %+v", d)
	}
	if err := f.m.Uninstall(ctx, "wordfilter"); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.set.Current().Public()["ext.wordfilter.words"]; ok {
		t.Fatalf("setting kept after uninstall: %s", v)
	}
}

// A program that is no extension and starts a child holding its pipes
// must fail install at the start timeout, with the child gone.
func TestNonPluginWithChildFailsAtStartTimeout(t *testing.T) {
	old := startTimeout
	startTimeout = time.Second
	t.Cleanup(func() { startTimeout = old })
	f := newFixture(t, Options{})
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := filepath.Join(dir, "notext")
	body := fmt.Sprintf("#!/bin/sh\nsleep 1000 &\necho $! > %s\nwait\n", pidFile)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // in case the test fails with the child alive
		if pid := readPid(pidFile); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	type result struct {
		err  error
		took time.Duration
	}
	ch := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := f.m.Install(context.Background(), InstallInput{Path: script})
		ch <- result{err, time.Since(start)}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(8 * time.Second):
		t.Fatal("install still waiting 8s after a 1s start timeout")
	}
	if !errors.Is(r.err, ErrInvalid) || r.took > 5*time.Second {
		t.Fatalf("install: %v after %s", r.err, r.took)
	}
	pid := readPid(pidFile)
	if pid <= 0 {
		t.Fatal("the script's child did not start")
	}
	waitFor(t, 3*time.Second, "the child to be gone", func() error {
		if alive(pid) {
			return fmt.Errorf("pid %d alive", pid)
		}
		return nil
	})
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func TestRoutePath(t *testing.T) {
	for raw, want := range map[string]string{
		"/files/a.txt":       "/files/a.txt",
		"files/a%20b":        "/files/a b",
		"/files/..x/.y":      "/files/..x/.y",
		"/files/%252e%252e":  "/files/%2e%2e",
		"/":                  "/",
		"/api/ext/probe/x/y": "/api/ext/probe/x/y",
	} {
		if got, err := RoutePath(raw); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"/files/../secret", "/files/./secret", "/files/%2e%2e/secret",
		"/files/%2E./secret", "/files/.%2e", "/files/..%2Fsecret", "/files/..%2fsecret", "/files/a%5Cb",
		`/files/a\b`, "/files/%zz", "/..", "/files/.", "/api/ext/probe/../admin"} {
		if got, err := RoutePath(raw); !errors.Is(err, ErrBadPath) {
			t.Errorf("%q accepted as %q", raw, got)
		}
	}
}

func TestRouteFailuresAndHead(t *testing.T) {
	var buf syncBuf
	f := newFixture(t, Options{RouteTimeout: 500 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	info := f.install(testextBin, "")
	ctx := context.Background()
	get := func(path string) (*extv1.RouteResponse, error) {
		return f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "GET", Path: path})
	}
	if _, err := get("/slow"); !errors.Is(err, ErrTimeout) {
		t.Errorf("slow route: %v, want ErrTimeout", err)
	}
	if _, err := get("/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big answer: %v, want ErrTooLarge", err)
	}
	generic := `{"detail":"Extension 'testext' failed to handle the request"}`
	for _, path := range []string{"/fail", "/panic"} {
		resp, err := get(path)
		if err != nil || resp.Status != 500 || string(resp.Body) != generic {
			t.Errorf("%s: %v %v", path, resp, err)
		}
	}
	// A panicking before-hook is a failure handled by the policy.
	if d := f.m.Before(ctx, createReq("notes", map[string]any{"mode": "panic"})); !d.Refused || d.Status != 503 {
		t.Errorf("panicking hook under closed policy: %+v", d)
	}
	// Neither panic took the process down.
	if st, _ := f.m.Get(ctx, "testext"); st.Status.PID != info.Status.PID || st.Status.Restarts != 0 {
		t.Errorf("process after panics: %+v (was pid %d)", st.Status, info.Status.PID)
	}
	waitFor(t, 5*time.Second, "the detail and the stacks in the log", func() error {
		log := buf.String()
		for _, want := range []string{"secret internal detail", "testext route panics", "testext hook panics"} {
			if !strings.Contains(log, want) {
				return fmt.Errorf("%q not logged", want)
			}
		}
		return nil
	})
	// HEAD runs the GET route and answers no body.
	if rs, err := f.m.MatchRoute("testext", "HEAD", "/hello"); err != nil || rs.Method != "GET" {
		t.Fatalf("HEAD match: %+v %v", rs, err)
	}
	resp, err := f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "HEAD", Path: "/hello"})
	if err != nil || resp.Status != 200 || len(resp.Body) != 0 || resp.Headers["x-testext"] != "yes" {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
}

func TestSettingMessages(t *testing.T) {
	f := newFixture(t, Options{})
	f.m.manifests.Store(&map[string]Manifest{"probe": {}})
	err := f.m.CheckSetting("ext.probe.x", json.RawMessage(`1`))
	if err == nil || err.Error() != "extension probe declares no settings" {
		t.Fatalf("no settings: %v", err)
	}
}

func TestReinstallNamesTheExtension(t *testing.T) {
	f := newFixture(t, Options{})
	f.install(testextBin, "")
	_, err := f.m.Install(context.Background(), InstallInput{Path: testextBin})
	var ee *ExistsError
	if !errors.Is(err, ErrExists) || !errors.As(err, &ee) || ee.Name != "testext" {
		t.Fatalf("second install: %v", err)
	}
}
