// Package testenv starts real TinyBase roles in-process for tests: an
// embedded bus, an initialised project folder, and the api, worker and
// scheduler roles, each with its own context.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/project"
)

// Env is a project folder with a running bus.
type Env struct {
	T      *testing.T
	Dir    string
	Config *config.Config
	Bus    *bus.Server
}

// Logger returns a logger that writes to the test log when -v is set and
// is otherwise silent.
func Logger(t *testing.T, role string) *slog.Logger {
	if testing.Verbose() {
		h := slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})
		return slog.New(h).With("role", role)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// New initialises a project in a temp folder (fast bcrypt, short scan
// interval) and starts an embedded bus on a random port.
func New(t *testing.T) *Env {
	t.Helper()
	dir := t.TempDir()
	toml := "[auth]\nbcrypt_cost = 4\n[functions]\nscan_interval_seconds = 1\n[worker]\ndrain_seconds = 5\n"
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := project.Init(context.Background(), project.InitOptions{Dir: dir, Force: true,
		AdminEmail: "admin@example.com", AdminPassword: "admin12345"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	user, pass := cfg.BusCredentials()
	srv, err := bus.StartServer(bus.ServerOptions{Host: "127.0.0.1", Port: 0,
		StoreDir: filepath.Join(dir, ".tinybase", "bus"), User: user, Password: pass, Logger: Logger(t, "bus")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg.Bus.URL = srv.ClientURL()
	return &Env{T: t, Dir: dir, Config: cfg, Bus: srv}
}

// Role is a role running in a goroutine.
type Role struct {
	cancel context.CancelFunc
	done   chan error
}

// Start runs fn in a goroutine until Stop or the end of the test.
func (e *Env) Start(name string, fn func(ctx context.Context) error) *Role {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Role{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- fn(ctx) }()
	e.T.Cleanup(func() { r.Stop(e.T) })
	return r
}

// Stop cancels the role and waits for it to return.
func (r *Role) Stop(t *testing.T) error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Errorf("role did not stop within 30s")
		return fmt.Errorf("timeout")
	}
}

// Listen binds a random loopback port for the api.
func Listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// WaitFor polls fn until it returns nil or d passes.
func WaitFor(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", d, what, err)
}
