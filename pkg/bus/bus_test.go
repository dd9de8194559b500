package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(ServerOptions{Host: "127.0.0.1", Port: 0, StoreDir: t.TempDir(),
		User: "tinybase", Password: "secret-pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestServerRequiresCredentials(t *testing.T) {
	s := startTestServer(t)
	if nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("anonymous client accepted")
	}
	if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("tinybase", "wrong"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("wrong password accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Connect(ctx, ConnectOptions{URL: s.ClientURL(), User: "tinybase", Password: "wrong", Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("Connect with a wrong password: %v", err)
	}
	c, err := Connect(ctx, ConnectOptions{URL: s.ClientURL(), User: "tinybase", Password: "secret-pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestStartServerPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartServer(ServerOptions{Host: "127.0.0.1", Port: port, StoreDir: t.TempDir(),
		User: "u", Password: "p", Logger: quiet()})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("err = %v, want ErrPortInUse", err)
	}
}

func connect(t *testing.T, s *Server) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Connect(ctx, ConnectOptions{URL: s.ClientURL(), User: "tinybase", Password: "secret-pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTopologyIdempotentAndDeduplicating(t *testing.T) {
	s := startTestServer(t)
	c := connect(t, s)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := EnsureTopology(ctx, c.JS); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	// A retried publish with the same message id is stored once.
	for i := 0; i < 3; i++ {
		if _, err := c.JS.Publish(ctx, CallSubjectPrefix+"hello", []byte("x"), jetstreamMsgID("call-1")); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.JS.Stream(ctx, CallsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestCollectStatus(t *testing.T) {
	s := startTestServer(t)
	a, b := connect(t, s), connect(t, s)
	for i, c := range []*Conn{a, b} {
		id := []string{"w1", "w2"}[i]
		svc, err := RegisterStatus(c.NC, func() RoleStatus {
			return RoleStatus{Role: "worker", ID: id, PID: 100 + i, InFlight: i}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
	}
	probe := connect(t, s)
	got, err := CollectStatus(context.Background(), probe.NC, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "w1" || got[1].ID != "w2" || got[1].InFlight != 1 {
		t.Fatalf("status %+v", got)
	}
}
