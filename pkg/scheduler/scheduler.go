// Package scheduler is the scheduler role. Several scheduler processes may
// run; the one holding the leader lease in the bus KV bucket fires
// schedules, the others stand by and take over when its lease lapses. The
// scheduler never opens the database.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/version"
)

// leaseKey is the KV key of the scheduler leader lease.
const leaseKey = "scheduler"

// Options configures a scheduler.
type Options struct {
	// ID names this scheduler; default "<host>-<pid>".
	ID     string
	Logger *slog.Logger
}

// Run runs the scheduler until ctx is done and releases the lease on exit.
// While it holds the lease it loads the active schedules from the api over
// the bus, follows their change events and publishes a fire into the
// TB_FIRES work queue whenever one comes due; see leaderLoop.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	host, _ := os.Hostname()
	if opts.ID == "" {
		opts.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	user, pass := cfg.BusCredentials()
	conn, err := bus.Connect(ctx, bus.ConnectOptions{URL: cfg.BusURL(), User: user, Password: pass,
		Name: "scheduler-" + opts.ID, Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := bus.EnsureTopology(ctx, conn.JS); err != nil {
		return fmt.Errorf("bus topology: %w", err)
	}
	kv, err := conn.JS.KeyValue(ctx, bus.LeasesBucket)
	if err != nil {
		return fmt.Errorf("open leases: %w", err)
	}
	var leader atomic.Bool
	started := time.Now()
	svc, err := bus.RegisterStatus(conn.NC, func() bus.RoleStatus {
		l := leader.Load()
		return bus.RoleStatus{Role: "scheduler", ID: opts.ID, Host: host, PID: os.Getpid(),
			Version: version.Version, StartedAt: started.UTC().Format(time.RFC3339), Leader: &l}
	})
	if err != nil {
		return err
	}
	defer svc.Stop()
	log.Info("scheduler started", "id", opts.ID)

	grace := time.Duration(cfg.Scheduler.MissedRunGraceSeconds) * time.Second
	var renewed atomic.Int64 // Unix ns of the last successful lease write
	fresh := func() bool {
		return time.Since(time.Unix(0, renewed.Load())) < bus.LeaseTTL-leaseSafety
	}
	var lead *leading
	var current atomic.Pointer[leaderLoop]
	prevReconnect := conn.NC.Opts.ReconnectedCB
	conn.NC.SetReconnectHandler(func(nc *nats.Conn) {
		if prevReconnect != nil {
			prevReconnect(nc)
		}
		if ld := current.Load(); ld != nil {
			ld.requestResync()
		}
	})

	l := &lease{kv: kv, id: opts.ID, log: log}
	renew := bus.LeaseTTL / 3
	t := time.NewTicker(renew)
	defer t.Stop()
	for {
		now := time.Now()
		held := l.tryHold(ctx)
		if held {
			renewed.Store(now.UnixNano())
		}
		if held != leader.Load() {
			leader.Store(held)
			if held {
				log.Info("scheduler became leader")
				pub, err := newPublisher(conn.NC, log)
				if err != nil {
					return fmt.Errorf("open jetstream: %w", err)
				}
				ld := newLeader(conn.NC, pub, opts.ID, grace, fresh, log)
				current.Store(ld)
				lead = startLeading(ld, log)
			} else {
				log.Info("scheduler is standing by")
				current.Store(nil)
				lead.stop()
				lead = nil
			}
		}
		select {
		case <-ctx.Done():
			if lead != nil {
				lead.stop()
			}
			if leader.Load() {
				l.release()
			}
			log.Info("scheduler stopped")
			return nil
		case <-t.C:
		}
	}
}

// leaseSafety is how long before the lease could lapse a leader stops
// firing, so that two leaders never fire at once (their fires would be
// deduplicated anyway).
const leaseSafety = 2 * time.Second

// leading is a running leader.
type leading struct {
	ld     *leaderLoop
	cancel context.CancelFunc
	done   chan struct{}
}

func startLeading(ld *leaderLoop, log *slog.Logger) *leading {
	ctx, cancel := context.WithCancel(context.Background())
	r := &leading{ld: ld, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := ld.run(ctx); err != nil {
			log.Error("leader stopped", "error", err)
		}
	}()
	return r
}

// stop ends the leader and settles the fires it published.
func (r *leading) stop() {
	r.cancel()
	<-r.done
	r.ld.pub.stop()
}

// lease is a leader lease: a KV key whose value is the holder's id, kept
// alive by updates at the revision the holder last wrote, and expired by
// the bucket's TTL when the holder stops renewing.
type lease struct {
	kv  jetstream.KeyValue
	id  string
	rev uint64
	log *slog.Logger
}

func (l *lease) tryHold(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, leaseKey, []byte(l.id), l.rev)
		if err == nil {
			l.rev = rev
			return true
		}
		l.log.Warn("lost scheduler lease", "error", err)
		l.rev = 0
	}
	rev, err := l.kv.Create(ctx, leaseKey, []byte(l.id))
	if err == nil {
		l.rev = rev
		return true
	}
	if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
		l.log.Debug("lease attempt failed", "error", err)
	}
	return false
}

func (l *lease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
}
