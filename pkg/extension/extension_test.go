package extension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/settings"
	"github.com/tinybase/tinybase/pkg/store"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// Binaries built once for every test.
var wordfilterBin, testextBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tinybase-ext-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wordfilterBin = filepath.Join(dir, "wordfilter")
	testextBin = filepath.Join(dir, "testext")
	for out, pkg := range map[string]string{wordfilterBin: "./examples/extensions/wordfilter",
		testextBin: "./pkg/extension/testdata/testext"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = filepath.Join("..", "..")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fixture struct {
	t     testing.TB
	db    *store.DB
	set   *settings.Service
	colls *collections.Service
	m     *Manager
	dir   string
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	set := settings.NewService(db, settings.Defaults{FunctionTimeoutSeconds: 60, MaxConcurrentFunctionsPerUser: 5})
	colls := collections.NewService(db)
	_, err = colls.Create(context.Background(), collections.CreateInput{Name: "notes", Label: "Notes",
		Schema: json.RawMessage(`{"fields":[{"name":"title","type":"string","required":true}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, set: set, dir: dir, colls: colls}
	f.m = f.manager(opts)
	return f
}

// manager starts a Manager over the fixture's database and folder.
func (f *fixture) manager(opts Options) *Manager {
	f.t.Helper()
	opts.DB = f.db
	opts.Dir = filepath.Join(f.dir, "extensions")
	opts.Host.Settings = f.set
	if opts.Host.Records == nil {
		opts.Host.Records = f.colls
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := NewManager(opts)
	if err := m.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(m.Close)
	return m
}

func (f *fixture) install(path, policy string) Info {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	info, err := f.m.Install(ctx, InstallInput{Path: path, Policy: policy})
	if err != nil {
		f.t.Fatalf("install %s: %v", path, err)
	}
	if info.Status.State != StateRunning {
		f.t.Fatalf("after install: state %s (%s)", info.Status.State, info.Status.LastError)
	}
	return info
}

func createReq(coll string, data any) *extv1.HookRequest {
	raw, _ := json.Marshal(data)
	return &extv1.HookRequest{Hook: extv1.Hook_HOOK_RECORD_BEFORE_CREATE, Collection: coll, DataJson: raw,
		AtUnixMs: time.Now().UnixMilli()}
}

// waitFor polls fn until it returns nil or d passes.
func waitFor(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", d, what, err)
}

func TestWordfilterRefusesAndServesRoute(t *testing.T) {
	f := newFixture(t, Options{})
	info := f.install(wordfilterBin, "")
	if info.Name != "wordfilter" || info.Version != "1.0.0" || info.Policy != PolicyClosed || len(info.SHA256) != 64 {
		t.Fatalf("installed %+v", info.Row)
	}
	ctx := context.Background()
	if !f.m.Wants(extv1.Hook_HOOK_RECORD_BEFORE_CREATE, "notes") {
		t.Fatal("wordfilter does not want before-create")
	}
	if f.m.Wants(extv1.Hook_HOOK_RECORD_AFTER_CREATE, "notes") {
		t.Fatal("wordfilter wants after-create, which it never registered")
	}
	d := f.m.Before(ctx, createReq("notes", map[string]any{"title": "a FORBIDDEN word"}))
	if !d.Refused || d.Status != 400 || !strings.Contains(d.Message, "forbidden") || d.Extension != "wordfilter" {
		t.Fatalf("forbidden word: %+v", d)
	}
	d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "fine", "tags": []any{"x", "nested forbidden"}}))
	if !d.Refused {
		t.Fatalf("forbidden word in an array passed: %+v", d)
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "fine"})); d.Refused || d.Data != nil {
		t.Fatalf("clean record: %+v", d)
	}

	// Settings: validated against the declared schema, then used.
	if err := f.m.CheckSetting("ext.wordfilter.words", json.RawMessage(`"bad"`)); err == nil {
		t.Fatal("a string was accepted for an array setting")
	}
	if err := f.m.CheckSetting("ext.wordfilter.colour", json.RawMessage(`1`)); err == nil {
		t.Fatal("an undeclared key was accepted")
	}
	if err := f.m.CheckSetting("ext.other.anything", json.RawMessage(`1`)); err != nil {
		t.Fatalf("a key of an extension that is not installed: %v", err)
	}
	if err := f.m.CheckSetting("ext.wordfilter.words", json.RawMessage(`["bad"]`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.set.Update(ctx, map[string]json.RawMessage{"ext.wordfilter.words": json.RawMessage(`["bad"]`)}); err != nil {
		t.Fatal(err)
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "forbidden is fine now"})); d.Refused {
		t.Fatalf("old word still refused after the setting changed: %+v", d)
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "too bad"})); !d.Refused {
		t.Fatalf("new word not refused: %+v", d)
	}

	// Route.
	if _, err := f.m.MatchRoute("wordfilter", "GET", "/nope"); err == nil {
		t.Fatal("undeclared route matched")
	}
	rs, err := f.m.MatchRoute("wordfilter", "GET", "/words")
	if err != nil || rs.Auth != AuthPublic {
		t.Fatalf("route: %+v %v", rs, err)
	}
	resp, err := f.m.Route(ctx, "wordfilter", &extv1.RouteRequest{Method: "GET", Path: "/words"})
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"words":["bad"]}` {
		t.Fatalf("route answer: %v %v", resp, err)
	}

	// Reinstalling the same name is refused; disabling stops the hooks.
	if _, err := f.m.Install(ctx, InstallInput{Path: wordfilterBin}); err == nil {
		t.Fatal("second install of the same extension succeeded")
	}
	off := false
	if _, err := f.m.Update(ctx, "wordfilter", &off, nil); err != nil {
		t.Fatal(err)
	}
	if f.m.Wants(extv1.Hook_HOOK_RECORD_BEFORE_CREATE, "notes") {
		t.Fatal("disabled extension still wants hooks")
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "too bad"})); d.Refused {
		t.Fatalf("disabled extension refused: %+v", d)
	}
	on := true
	if _, err := f.m.Update(ctx, "wordfilter", &on, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.WaitStarted(ctx, "wordfilter"); err != nil {
		t.Fatal(err)
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"title": "too bad"})); !d.Refused {
		t.Fatalf("re-enabled extension did not refuse: %+v", d)
	}
	if err := f.m.Uninstall(ctx, "wordfilter"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(info.Path)); !os.IsNotExist(err) {
		t.Fatalf("folder left after uninstall: %v", err)
	}
	if list, _ := f.m.List(ctx); len(list) != 0 {
		t.Fatalf("list after uninstall: %+v", list)
	}
}

func TestModifyRefuseAndCollectionFilter(t *testing.T) {
	f := newFixture(t, Options{})
	f.install(testextBin, "")
	ctx := context.Background()
	d := f.m.Before(ctx, createReq("notes", map[string]any{"mode": "upper", "title": "abc"}))
	if d.Refused || string(d.Data) != `{"mode":"upper","title":"ABC"}` {
		t.Fatalf("modify: %+v %s", d, d.Data)
	}
	d = f.m.Before(ctx, createReq("notes", map[string]any{"mode": "refuse"}))
	if !d.Refused || d.Status != 422 || d.Message != "testext says no" {
		t.Fatalf("refuse: %+v", d)
	}
	// The before-hook is limited to "notes".
	if f.m.Wants(extv1.Hook_HOOK_RECORD_BEFORE_CREATE, "other") {
		t.Fatal("wants a collection it did not ask for")
	}
	if d = f.m.Before(ctx, createReq("other", map[string]any{"mode": "refuse"})); d.Refused {
		t.Fatalf("hook ran for another collection: %+v", d)
	}
	// A plain error is a failure: policy closed refuses with 503.
	d = f.m.Before(ctx, createReq("notes", map[string]any{"mode": "error"}))
	if !d.Refused || d.Status != 503 {
		t.Fatalf("error under closed policy: %+v", d)
	}
}

func TestAfterHooksAndEnvironment(t *testing.T) {
	t.Setenv("TINYBASE_SECRET_FOR_TEST", "s3cret")
	f := newFixture(t, Options{})
	f.install(testextBin, "")
	for i := 0; i < 5; i++ {
		f.m.After(&extv1.HookRequest{Hook: extv1.Hook_HOOK_RECORD_AFTER_CREATE, Collection: "any"})
	}
	ctx := context.Background()
	waitFor(t, 5*time.Second, "after-hooks delivered", func() error {
		resp, err := f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "GET", Path: "/count",
			Caller: &extv1.Caller{UserId: "u1", IsAdmin: true}})
		if err != nil {
			return err
		}
		if !strings.Contains(string(resp.Body), `"after_creates":5`) || !strings.Contains(string(resp.Body), `"u1"`) {
			return fmt.Errorf("count: %s", resp.Body)
		}
		return nil
	})
	resp, err := f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "POST", Path: "/env"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.Body), "s3cret") || strings.Contains(string(resp.Body), "TINYBASE_SECRET") {
		t.Fatalf("server environment reached the plugin: %s", resp.Body)
	}
	// Settings reach the extension with their declared default.
	resp, err = f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "GET", Path: "/settings/x"})
	if err != nil || string(resp.Body) != `{"limit":5}` {
		t.Fatalf("settings: %v %v", resp, err)
	}
}

func TestHookTimeoutFailsClosedOrOpen(t *testing.T) {
	f := newFixture(t, Options{HookTimeout: 150 * time.Millisecond})
	f.install(testextBin, "")
	ctx := context.Background()
	start := time.Now()
	d := f.m.Before(ctx, createReq("notes", map[string]any{"mode": "sleep", "ms": 2000}))
	if took := time.Since(start); took > time.Second {
		t.Fatalf("hook call took %s with a 150ms timeout", took)
	}
	if !d.Refused || d.Status != 503 || !strings.Contains(d.Message, "testext") {
		t.Fatalf("closed policy after timeout: %+v", d)
	}
	open := PolicyOpen
	if _, err := f.m.Update(ctx, "testext", nil, &open); err != nil {
		t.Fatal(err)
	}
	if d = f.m.Before(ctx, createReq("notes", map[string]any{"mode": "sleep", "ms": 2000})); d.Refused {
		t.Fatalf("open policy after timeout: %+v", d)
	}
	if _, err := f.m.Update(ctx, "testext", nil, new(string)); err == nil {
		t.Fatal("empty policy accepted")
	}
}

func TestCrashRestarts(t *testing.T) {
	f := newFixture(t, Options{})
	info := f.install(testextBin, "")
	ctx := context.Background()
	pid := info.Status.PID
	if pid == 0 {
		t.Fatal("no pid")
	}
	d := f.m.Before(ctx, createReq("notes", map[string]any{"mode": "crash"}))
	if !d.Refused || d.Status != 503 {
		t.Fatalf("crashing hook: %+v", d)
	}
	waitFor(t, 10*time.Second, "restart after crash", func() error {
		got, _ := f.m.Get(ctx, "testext")
		if got.Status.State != StateRunning || got.Status.Restarts < 1 || got.Status.PID == pid {
			return fmt.Errorf("status %+v", got.Status)
		}
		return nil
	})
	// kill -9 from outside is noticed the same way.
	got, _ := f.m.Get(ctx, "testext")
	if err := syscall.Kill(got.Status.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "restart after kill -9", func() error {
		d := f.m.Before(ctx, createReq("notes", map[string]any{"mode": "upper", "title": "x"}))
		if d.Refused || string(d.Data) != `{"mode":"upper","title":"X"}` {
			return fmt.Errorf("decision %+v", d)
		}
		return nil
	})
	if st, _ := f.m.Get(ctx, "testext"); st.Status.Restarts < 2 {
		t.Fatalf("restarts %d, want 2", st.Status.Restarts)
	}
}

func TestChangedBinaryIsRefused(t *testing.T) {
	f := newFixture(t, Options{})
	info := f.install(testextBin, PolicyOpen)
	f.m.Close()
	fh, err := os.OpenFile(info.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write([]byte("tampered"))
	fh.Close()
	m := f.manager(Options{})
	st, err := m.WaitStarted(context.Background(), "testext")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateRefused || !strings.Contains(st.LastError, "sha256") || st.PID != 0 {
		t.Fatalf("status of a changed binary: %+v", st)
	}
	list, err := m.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Status.State != StateRefused {
		t.Fatalf("list: %+v %v", list, err)
	}
	// Policy open: records go through while it is refused.
	if d := m.Before(context.Background(), createReq("notes", map[string]any{"mode": "refuse"})); d.Refused {
		t.Fatalf("refused extension under open policy: %+v", d)
	}
}

func TestBrokenInstallsAreRejected(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	notPlugin := filepath.Join(t.TempDir(), "true")
	os.WriteFile(notPlugin, []byte("#!/bin/sh\necho hello\n"), 0o755)
	for name, path := range map[string]string{"missing": "/no/such/file", "not a plugin": notPlugin,
		"empty folder": t.TempDir()} {
		if _, err := f.m.Install(ctx, InstallInput{Path: path}); err == nil {
			t.Errorf("%s: installed", name)
		}
	}
	if list, _ := f.m.List(ctx); len(list) != 0 {
		t.Fatalf("list: %+v", list)
	}
	entries, _ := os.ReadDir(filepath.Join(f.dir, "extensions"))
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestInstallFromSource(t *testing.T) {
	f := newFixture(t, Options{})
	info := f.install(filepath.Join("..", "..", "examples", "extensions", "wordfilter"), "")
	if info.Name != "wordfilter" || !strings.HasSuffix(info.Source, "examples/extensions/wordfilter") {
		t.Fatalf("%+v", info.Row)
	}
}

func TestMissingBinaryDoesNotStopStart(t *testing.T) {
	f := newFixture(t, Options{})
	info := f.install(testextBin, "")
	f.m.Close()
	if err := os.Remove(info.Path); err != nil {
		t.Fatal(err)
	}
	m := f.manager(Options{})
	st, err := m.WaitStarted(context.Background(), "testext")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateFailed || !strings.Contains(st.LastError, "no such file") {
		t.Fatalf("status of a missing binary: %+v", st)
	}
	if d := m.Before(context.Background(), createReq("notes", map[string]any{})); !d.Refused || d.Status != 503 {
		t.Fatalf("closed policy with a missing binary: %+v", d)
	}
	if err := m.Uninstall(context.Background(), "testext"); err != nil {
		t.Fatal(err)
	}
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStderrIsLoggedWithTheExtensionName(t *testing.T) {
	var buf syncBuf
	f := newFixture(t, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	f.install(testextBin, "")
	resp, err := f.m.Route(context.Background(), "testext", &extv1.RouteRequest{Method: "POST", Path: "/stderr",
		Body: []byte("hello from the plugin")})
	if err != nil || resp.Status != 204 {
		t.Fatalf("route: %v %v", resp, err)
	}
	waitFor(t, 5*time.Second, "stderr line in the log", func() error {
		for _, line := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			if rec["extension"] == "testext" && rec["line"] == "hello from the plugin" {
				return nil
			}
		}
		return fmt.Errorf("log so far:\n%s", buf.String())
	})
}

func TestHostServiceRecords(t *testing.T) {
	f := newFixture(t, Options{})
	f.install(testextBin, "")
	ctx := context.Background()
	resp, err := f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "POST", Path: "/records/notes",
		Body: []byte("made by an extension")})
	if err != nil || resp.Status != 200 {
		t.Fatalf("route: %v %v", resp, err)
	}
	var rec struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &rec); err != nil {
		t.Fatal(err)
	}
	stored, err := f.colls.GetRecord(ctx, "notes", rec.ID)
	if err != nil || string(stored.Data) != `{"title":"made by an extension"}` {
		t.Fatalf("stored: %+v %v", stored, err)
	}
	// Domain errors reach the extension as errors; the SDK answers 500
	// without their text (it goes to the extension's stderr).
	resp, err = f.m.Route(ctx, "testext", &extv1.RouteRequest{Method: "POST", Path: "/records/nope", Body: []byte("x")})
	if err != nil || resp.Status != 500 || strings.Contains(string(resp.Body), "NotFound") ||
		!strings.Contains(string(resp.Body), "failed to handle the request") {
		t.Fatalf("missing collection: %v %v", resp, err)
	}
}
