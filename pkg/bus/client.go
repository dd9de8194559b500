package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions says how a role reaches the bus.
type ConnectOptions struct {
	URL      string
	User     string
	Password string
	// Name identifies the connection in server monitoring, e.g. "worker-1".
	Name   string
	Logger *slog.Logger
}

// Conn is a role's connection to the bus with JetStream.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials the bus, retrying while ctx allows so roles may start before
// the bus is up, and keeps reconnecting forever afterwards.
func Connect(ctx context.Context, o ConnectOptions) (*Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.UserInfo(o.User, o.Password),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("bus reconnected") }),
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		nc, err := nats.Connect(o.URL, opts...)
		if err == nil {
			js, err := jetstream.New(nc)
			if err != nil {
				nc.Close()
				return nil, fmt.Errorf("jetstream: %w", err)
			}
			return &Conn{NC: nc, JS: js}, nil
		}
		lastErr = err
		if isAuthErr(err) {
			return nil, fmt.Errorf("connect to bus %s: %w (check the bus credentials)", o.URL, err)
		}
		if attempt == 0 {
			log.Info("waiting for bus", "url", o.URL, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to bus %s: %w", o.URL, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isAuthErr(err error) bool {
	return err != nil && (errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		strings.Contains(strings.ToLower(err.Error()), "authorization violation"))
}

// Close drains the connection so buffered publishes reach the server.
func (c *Conn) Close() {
	if c == nil || c.NC == nil {
		return
	}
	_ = c.NC.Drain()
	deadline := time.Now().Add(5 * time.Second)
	for !c.NC.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.NC.Close()
}
