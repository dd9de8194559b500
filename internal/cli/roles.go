package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tinybase/tinybase/internal/harden"
	"github.com/tinybase/tinybase/internal/lockfile"
	"github.com/tinybase/tinybase/pkg/api"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/scheduler"
	"github.com/tinybase/tinybase/pkg/supervisor"
	"github.com/tinybase/tinybase/pkg/worker"
)

// ServeCmd runs the whole deployment under a supervisor.
type ServeCmd struct {
	Workers int `help:"Number of worker processes (default: [worker] count, 2)." default:"-1"`
}

// Run starts the supervisor.
func (c *ServeCmd) Run(g *Globals) error {
	cfg, err := load(g, bootLogger("supervisor"))
	if err != nil {
		return err
	}
	log := roleLogger(cfg, "supervisor")
	if !cfg.Secrets.Present() {
		return fmt.Errorf("%s is %w", cfg.Dir, supervisor.ErrNotInitialised)
	}
	n := cfg.Worker.Count
	if c.Workers >= 0 {
		n = c.Workers
	}
	ctx, stop := signalContext()
	defer stop()
	return supervisor.Run(ctx, cfg, supervisor.Options{Workers: n, Logger: log})
}

// APICmd runs the api role alone.
type APICmd struct {
	BusFlags
}

// Run starts the api.
func (c *APICmd) Run(g *Globals) error {
	cfg, err := load(g, bootLogger("api"))
	if err != nil {
		return err
	}
	c.apply(cfg)
	log := roleLogger(cfg, "api")
	if !cfg.Secrets.Present() {
		return config.ErrNotInitialised
	}
	release, err := lockfile.Lock(cfg.StatePath(), "api")
	if err != nil {
		return err
	}
	defer release()
	ctx, stop := signalContext()
	defer stop()
	watchParent(ctx, stop)
	return api.Run(ctx, cfg, api.Options{Logger: log})
}

// SchedulerCmd runs a scheduler.
type SchedulerCmd struct {
	BusFlags
	ID string `help:"Scheduler id (default: <host>-<pid>)."`
}

// Run starts the scheduler.
func (c *SchedulerCmd) Run(g *Globals) error {
	cfg, err := load(g, bootLogger("scheduler"))
	if err != nil {
		return err
	}
	c.apply(cfg)
	log := roleLogger(cfg, "scheduler")
	if err := needBusCredentials(cfg); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	watchParent(ctx, stop)
	return scheduler.Run(ctx, cfg, scheduler.Options{ID: c.ID, Logger: log})
}

// WorkerCmd runs a worker.
type WorkerCmd struct {
	BusFlags
	ID          string `help:"Worker id (default: <host>-<pid>)."`
	Concurrency int    `help:"Calls run at once (default: [worker] concurrency)." default:"0"`
	CacheDir    string `name:"cache-dir" help:"Folder for downloaded bundles (default: a temporary folder)." type:"path"`
}

// Run starts the worker.
func (c *WorkerCmd) Run(g *Globals) error {
	cfg, err := load(g, bootLogger("worker"))
	if err != nil {
		return err
	}
	// The worker's bundle cache must be readable by the function user.
	harden.SharedFiles()
	c.apply(cfg)
	if c.Concurrency > 0 {
		cfg.Worker.Concurrency = c.Concurrency
	}
	log := roleLogger(cfg, "worker")
	if err := needBusCredentials(cfg); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	watchParent(ctx, stop)
	return worker.Run(ctx, cfg, worker.Options{ID: c.ID, CacheDir: c.CacheDir, Logger: log})
}

// BusCmd runs the embedded bus alone.
type BusCmd struct{}

// Run starts the bus server.
func (c *BusCmd) Run(g *Globals) error {
	cfg, err := load(g, bootLogger("bus"))
	if err != nil {
		return err
	}
	log := roleLogger(cfg, "bus")
	user, pass := cfg.BusCredentials()
	if pass == "" {
		return config.ErrNotInitialised
	}
	release, err := lockfile.Lock(cfg.StatePath(), "bus")
	if err != nil {
		return err
	}
	defer release()
	ctx, stop := signalContext()
	defer stop()
	return bus.Run(ctx, bus.ServerOptions{Host: cfg.Bus.Host, Port: cfg.Bus.Port,
		StoreDir: cfg.Path(cfg.Bus.StoreDir), User: user, Password: pass, Logger: log})
}

func needBusCredentials(cfg *config.Config) error {
	if _, pass := cfg.BusCredentials(); pass == "" {
		return errors.New("no bus credentials: run in an initialised project folder, " +
			"or pass --bus-user and --bus-password")
	}
	return nil
}

// watchParent stops a supervised role whose supervisor vanished. The
// kernel's parent-death signal normally does this; the check covers the
// window before the child set it up.
func watchParent(ctx interface{ Done() <-chan struct{} }, stop func()) {
	if os.Getenv("TINYBASE_SUPERVISED") != "1" {
		return
	}
	parent := os.Getppid()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != parent {
					stop()
					return
				}
			}
		}
	}()
}
