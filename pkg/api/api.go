// Package api is the api role: the only process that opens the database.
// It serves the REST API over HTTP, dispatches function calls to workers
// over the bus, records their results, and publishes function bundles.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/metrics"
	"github.com/tinybase/tinybase/pkg/store"
	"github.com/tinybase/tinybase/pkg/version"
	"github.com/tinybase/tinybase/pkg/versions"
)

// Options configures the api role.
type Options struct {
	Logger *slog.Logger
	// Listener, when set, is used instead of binding server.host:port
	// (tests pass one bound to port 0).
	Listener net.Listener
}

// ErrPortInUse means the HTTP port is taken.
var ErrPortInUse = errors.New("port in use")

// Run serves the api until ctx is done, then shuts down in order: stop
// accepting HTTP, finish in-flight requests, stop bus consumers, close the
// database.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.Secrets.Present() {
		return config.ErrNotInitialised
	}
	ln := opts.Listener
	if ln == nil {
		addr := net.JoinHostPort(cfg.Server.Host, strconv.Itoa(cfg.Server.Port))
		var err error
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("http port %d: %w", cfg.Server.Port, ErrPortInUse)
		}
	}
	defer ln.Close()

	dbPath, err := cfg.DatabasePath()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	acct, err := newAccounts(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	defer acct.stop()
	issuer, usersSvc := acct.issuer, acct.users
	colls := collections.NewService(db)
	callLog := calls.NewCalls(db)
	registry := functions.NewRegistry()

	user, pass := cfg.BusCredentials()
	conn, err := bus.Connect(ctx, bus.ConnectOptions{URL: cfg.BusURL(), User: user, Password: pass,
		Name: "api", Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := bus.EnsureTopology(ctx, conn.JS); err != nil {
		return fmt.Errorf("bus topology: %w", err)
	}
	acct.attachBus(conn.NC)
	colls.SetPublisher(recordEvents{nc: conn.NC})

	// Background components share one context, cancelled at shutdown after
	// HTTP has stopped.
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	var wg sync.WaitGroup
	acct.start(bg, &wg)

	fnVersions := versions.New(db)
	workers, err := newWorkerView(conn.NC)
	if err != nil {
		return fmt.Errorf("watch workers: %w", err)
	}
	defer workers.stop()
	go workers.seed(conn.NC)
	disp := newDispatcher(conn, callLog, issuer, cfg, log)
	disp.workers = workers
	disp.timeouts = acct
	disp.maxPerUser = acct.maxConcurrentPerUser
	if err := disp.start(bg); err != nil {
		return err
	}
	pub, err := newPublisher(bg, conn, cfg.FunctionsDir(), registry, fnVersions, log)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		pub.run(bg, time.Duration(cfg.Functions.ScanIntervalSeconds)*time.Second)
	}()
	select {
	case <-pub.ready:
	case <-time.After(10 * time.Second):
		log.Warn("function list not loaded from the bus within 10s; serving anyway")
	}

	host, _ := os.Hostname()
	started := time.Now()
	svc, err := bus.RegisterStatus(conn.NC, func() bus.RoleStatus {
		return bus.RoleStatus{Role: "api", ID: "api", Host: host, PID: os.Getpid(), Version: version.Version,
			StartedAt: started.UTC().Format(time.RFC3339), InFlight: int(disp.inFlight.Load())}
	})
	if err != nil {
		return err
	}
	defer svc.Stop()

	s := &Server{cfg: cfg, log: log, users: usersSvc, issuer: issuer, collections: colls,
		calls: callLog, registry: registry, dispatch: disp, versions: fnVersions, publisher: pub,
		acct: acct, metrics: metrics.New(db), events: &events{}}
	defer s.startActivity(bg, db)()
	stopSchedules, err := s.startSchedules(bg, conn, db)
	if err != nil {
		return err
	}
	defer stopSchedules()
	stopExtensions, err := s.startExtensions(bg, db)
	if err != nil {
		return err
	}
	defer stopExtensions()
	app := s.App()

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	log.Info("api started", "addr", ln.Addr().String(), "db", dbPath)
	s.events.emit(Event{Kind: EventAPIStarted, Subject: "api", Data: map[string]any{"version": version.Version}})

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopBG()
		wg.Wait()
		disp.stop()
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("api stopping: closing http")
	s.events.emit(Event{Kind: EventAPIStopping, Subject: "api"})
	disp.release()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.ShutdownWithContext(sctx); err != nil {
		log.Warn("http shutdown incomplete", "error", err)
	}
	log.Info("api stopping: bus consumers")
	stopBG()
	wg.Wait()
	disp.stop()
	log.Info("api stopped")
	return nil
}
