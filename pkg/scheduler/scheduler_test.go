package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func leaders(t *testing.T, c *bus.Conn) (map[string]bool, error) {
	roles, err := bus.CollectStatus(context.Background(), c.NC, 300*time.Millisecond)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range roles {
		if r.Role == "scheduler" && r.Leader != nil {
			out[r.ID] = *r.Leader
		}
	}
	return out, nil
}

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
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

// TestLeaseFailover runs two schedulers: exactly one leads, and when it
// stops the other takes over within seconds.
func TestLeaseFailover(t *testing.T) {
	srv, err := bus.StartServer(bus.ServerOptions{Host: "127.0.0.1", StoreDir: t.TempDir(),
		User: "tinybase", Password: "pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	cfg := config.Default()
	cfg.Bus.URL = srv.ClientURL()
	cfg.Bus.User, cfg.Bus.Password = "tinybase", "pw"

	type running struct {
		cancel context.CancelFunc
		done   chan error
	}
	start := func(id string) running {
		ctx, cancel := context.WithCancel(context.Background())
		r := running{cancel, make(chan error, 1)}
		go func() { r.done <- Run(ctx, &cfg, Options{ID: id, Logger: quiet()}) }()
		return r
	}
	a := start("a")
	defer a.cancel()
	probe, err := bus.Connect(context.Background(), bus.ConnectOptions{URL: srv.ClientURL(), User: "tinybase",
		Password: "pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	waitFor(t, 10*time.Second, "a leads", func() error {
		l, err := leaders(t, probe)
		if err != nil || !l["a"] {
			return fmt.Errorf("leaders %v %v", l, err)
		}
		return nil
	})
	b := start("b")
	defer b.cancel()
	waitFor(t, 10*time.Second, "b stands by", func() error {
		l, err := leaders(t, probe)
		if err != nil || len(l) != 2 || l["b"] || !l["a"] {
			return fmt.Errorf("leaders %v %v", l, err)
		}
		return nil
	})
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*bus.LeaseTTL/2, "b takes over", func() error {
		l, err := leaders(t, probe)
		if err != nil || !l["b"] {
			return fmt.Errorf("leaders %v %v", l, err)
		}
		return nil
	})
}
