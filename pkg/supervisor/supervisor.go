// Package supervisor runs a whole TinyBase deployment on one host: the
// embedded bus in its own process, and the api, scheduler and workers as
// child processes of the same binary, restarted with backoff when they die.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tinybase/tinybase/internal/lockfile"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
)

// Options configures a supervisor.
type Options struct {
	// Workers is the number of worker processes to start.
	Workers int
	// Executable is the tinybase binary children run; default os.Executable.
	Executable string
	// Logger receives the supervisor's own lines.
	Logger *slog.Logger
	// StopTimeout bounds how long one role may take to stop before it is
	// killed. Default 15s for api and scheduler; workers get their drain
	// time plus 5s.
	StopTimeout time.Duration
}

// Errors reported before anything starts.
var (
	ErrNotInitialised = errors.New("not a TinyBase project: run tinybase init first")
	ErrPortInUse      = errors.New("port in use")
)

// Run starts the bus and every role and supervises them until ctx is done,
// then stops them in order (api, scheduler, workers, bus) and returns nil.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.Secrets.Present() {
		return fmt.Errorf("%s is %w", cfg.Dir, ErrNotInitialised)
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
		opts.Executable = exe
	}
	release, err := lockfile.Lock(cfg.StatePath(), "serve")
	if err != nil {
		return err
	}
	defer release()
	if cfg.Bus.URL == "" {
		releaseBus, err := lockfile.Lock(cfg.StatePath(), "bus")
		if err != nil {
			return err
		}
		defer releaseBus()
	}
	if err := checkPort(cfg.Server.Host, cfg.Server.Port); err != nil {
		return fmt.Errorf("http port %d: %w", cfg.Server.Port, err)
	}
	var srv *bus.Server
	if cfg.Bus.URL == "" {
		user, pass := cfg.BusCredentials()
		var err error
		srv, err = bus.StartServer(bus.ServerOptions{
			Host: cfg.Bus.Host, Port: cfg.Bus.Port, StoreDir: cfg.Path(cfg.Bus.StoreDir),
			User: user, Password: pass, Logger: log.With("component", "bus"),
		})
		if err != nil {
			if errors.Is(err, bus.ErrPortInUse) {
				return fmt.Errorf("bus port %d: %w", cfg.Bus.Port, ErrPortInUse)
			}
			return err
		}
		defer srv.Shutdown()
	}

	sp := newSpawner()
	defer sp.stop()
	env := append(os.Environ(),
		"TINYBASE_SUPERVISED=1",
		"TINYBASE_BUS_URL="+cfg.BusURL(),
	)
	base := []string{"--dir", cfg.Dir}
	stop := opts.StopTimeout
	if stop == 0 {
		stop = 15 * time.Second
	}
	workerStop := time.Duration(cfg.Worker.DrainSeconds)*time.Second + 5*time.Second

	var api, sched *child
	var workers []*child
	api = newChild("api", "api", append([]string{"api"}, base...), env, stop, sp, log)
	if cfg.Scheduler.Enabled {
		sched = newChild("scheduler", "scheduler", append([]string{"scheduler", "--id", "scheduler-1"}, base...),
			env, stop, sp, log)
	}
	for i := 1; i <= opts.Workers; i++ {
		id := "worker-" + strconv.Itoa(i)
		workers = append(workers, newChild("worker", id,
			append([]string{"worker", "--id", id}, base...), env, workerStop, sp, log))
	}
	all := append([]*child{api}, workers...)
	if sched != nil {
		all = append(all, sched)
	}
	var wg sync.WaitGroup
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	for _, c := range all {
		c.exe = opts.Executable
		c.dir = cfg.Dir
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.supervise(runCtx)
		}()
	}
	log.Info("supervisor started", "workers", opts.Workers, "http_port", cfg.Server.Port,
		"bus", cfg.BusURL(), "pid", os.Getpid())

	<-ctx.Done()
	log.Info("shutting down; send the signal again to kill every role at once")
	force := make(chan os.Signal, 1)
	signal.Notify(force, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(force)
	go func() {
		if _, ok := <-force; ok {
			log.Warn("second signal: killing every role now")
			for _, c := range all {
				c.kill()
			}
		}
	}()
	// Ordered stop: stop taking requests first, then stop firing schedules,
	// then let workers drain, and the bus last (deferred).
	api.shutdown()
	if sched != nil {
		sched.shutdown()
	}
	var wwg sync.WaitGroup
	for _, w := range workers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			w.shutdown()
		}()
	}
	wwg.Wait()
	cancelRun()
	wg.Wait()
	log.Info("all roles stopped")
	return nil
}

func checkPort(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return ErrPortInUse
	}
	return l.Close()
}

// StatePath is a helper for tests and callers that need the project's
// state folder.
func StatePath(cfg *config.Config) string { return filepath.Join(cfg.Dir, config.StateDir) }
