// Package worker is the worker role: it takes function calls from the bus
// work queue, runs them in isolated processes through the runner, and
// publishes their results. Workers never open the database, so they can run
// on any host that reaches the bus.
package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/runner"
	pysdk "github.com/tinybase/tinybase/pkg/sdk/python"
	"github.com/tinybase/tinybase/pkg/version"
)

// Options configures one worker.
type Options struct {
	// ID names the worker in logs, status and call records. Default
	// "<host>-<pid>".
	ID string
	// CacheDir holds downloaded bundles and the SDK. Default
	// .tinybase/workers/<id> in the project folder.
	CacheDir string
	Logger   *slog.Logger
}

// Worker is a running worker.
type Worker struct {
	cfg     *config.Config
	id      string
	log     *slog.Logger
	conn    *bus.Conn
	runner  *runner.Runner
	bundles *bundleCache
	// inFlight counts calls from when they arrive until their results
	// are delivered; the status reports the slots in use instead.
	inFlight atomic.Int64
	slots    *slots
	// draining is set once the worker stops taking calls.
	draining atomic.Bool
	// deliveries counts results still being handed to the api.
	deliveries sync.WaitGroup
	// directRuns counts direct calls running.
	directRuns sync.WaitGroup
	// held holds the ids of direct calls taken and not yet delivered.
	held    sync.Map
	started time.Time
}

// Run runs a worker until ctx is done, then drains: in-flight calls get
// worker.drain_seconds to finish; calls still running after that are
// stopped and handed back to the queue for another worker.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	host, _ := os.Hostname()
	if opts.ID == "" {
		opts.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("worker_id", opts.ID)
	iso, err := isolation(cfg.Worker.FunctionUser, log)
	if err != nil {
		return err
	}
	if opts.CacheDir == "" {
		// One folder per project and worker id, emptied at start: a worker
		// killed with -9 leaves it behind, and its successor reuses it.
		sum := sha256.Sum256([]byte(cfg.Dir))
		safeID := strings.Map(func(r rune) rune {
			if r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
				(r >= '0' && r <= '9') {
				return r
			}
			return '_'
		}, opts.ID)
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("tinybase-%s-%s", hex.EncodeToString(sum[:4]), safeID))
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear worker cache: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.CacheDir = dir
	}
	home, err := prepareCache(opts.CacheDir, iso)
	if err != nil {
		return fmt.Errorf("create worker cache: %w", err)
	}
	sdkDir := filepath.Join(opts.CacheDir, "sdk")
	if err := os.MkdirAll(sdkDir, 0o755); err != nil {
		return fmt.Errorf("create worker cache: %w", err)
	}
	if err := pysdk.Install(sdkDir); err != nil {
		return fmt.Errorf("install python sdk: %w", err)
	}

	user, pass := cfg.BusCredentials()
	conn, err := bus.Connect(ctx, bus.ConnectOptions{URL: cfg.BusURL(), User: user, Password: pass,
		Name: opts.ID, Logger: log})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := bus.EnsureTopology(ctx, conn.JS); err != nil {
		return fmt.Errorf("bus topology: %w", err)
	}
	obs, err := conn.JS.ObjectStore(ctx, bus.BundlesBucket)
	if err != nil {
		return fmt.Errorf("open bundle store: %w", err)
	}
	meta, err := conn.JS.KeyValue(ctx, bus.MetaBucket)
	if err != nil {
		return fmt.Errorf("open function metadata: %w", err)
	}

	// Keep at least as many warm processes as calls this worker runs at
	// once; otherwise every burst above the pool size pays a cold start.
	// A pool size of 0 still means a fresh process for every call.
	pool := cfg.Functions.ColdStartPoolSize
	if pool > 0 {
		pool = max(pool, cfg.Worker.Concurrency)
	}
	r := runner.New(runner.Options{
		PoolSize:       pool,
		IdleTTL:        time.Duration(cfg.Functions.ColdStartTTLSeconds) * time.Second,
		Env:            functionEnv(home, iso != nil),
		Isolation:      iso,
		SDKDir:         sdkDir,
		MaxResultBytes: cfg.Functions.MaxResultBytes,
		Logger:         log,
	})
	defer r.Close()

	w := &Worker{cfg: cfg, id: opts.ID, log: log, conn: conn, runner: r, started: time.Now(),
		slots:   newSlots(cfg.Worker.Concurrency),
		bundles: &bundleCache{dir: filepath.Join(opts.CacheDir, "bundles"), obs: obs}}

	status := func() bus.RoleStatus {
		return bus.RoleStatus{Role: "worker", ID: w.id, Host: host, PID: os.Getpid(),
			Version: version.Version, StartedAt: w.started.UTC().Format(time.RFC3339Nano),
			Concurrency: cfg.Worker.Concurrency, InFlight: w.slots.inUse(), Direct: true,
			Draining: w.draining.Load(), Calls: w.heldCalls()}
	}
	svc, err := bus.RegisterStatus(conn.NC, status)
	if err != nil {
		return err
	}
	defer svc.Stop()
	heartbeatCtx, stopHeartbeat := context.WithCancel(context.Background())
	defer stopHeartbeat()

	calls, err := conn.JS.Consumer(ctx, bus.CallsStream, bus.WorkersConsumer)
	if err != nil {
		return fmt.Errorf("open call queue: %w", err)
	}
	describes, err := conn.JS.Consumer(ctx, bus.DescribeStream, bus.DescribeConsumer)
	if err != nil {
		return fmt.Errorf("open describe queue: %w", err)
	}

	// fetchCtx stops taking new work; runCtx stops work in progress and is
	// cancelled only when the drain time is up.
	fetchCtx, stopFetching := context.WithCancel(context.Background())
	defer stopFetching()
	runCtx, stopRunning := context.WithCancel(context.Background())
	defer stopRunning()
	direct, err := conn.NC.Subscribe(bus.DirectCallSubject(w.id), func(m *nats.Msg) { w.onDirect(runCtx, m) })
	if err != nil {
		return fmt.Errorf("subscribe to direct calls: %w", err)
	}
	// The first heartbeat, which offers direct calls, follows the
	// subscription.
	go w.heartbeat(heartbeatCtx, status)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Worker.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.callLoop(fetchCtx, runCtx, calls)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		w.describeLoop(fetchCtx, runCtx, describes, meta)
	}()
	go func() {
		defer wg.Done()
		w.watchVersions(fetchCtx, meta)
	}()
	log.Info("worker started", "concurrency", cfg.Worker.Concurrency, "bus", cfg.BusURL(),
		"pool_size", cfg.Functions.ColdStartPoolSize)

	<-ctx.Done()
	// Take no new calls: direct ones still on their way are answered busy
	// (Drain lets the handler see them) and the api queues them. The
	// heartbeat goes on, marked draining, so the api knows the calls
	// still running here can finish.
	w.draining.Store(true)
	_ = direct.Drain()
	_ = conn.NC.Publish(bus.WorkerLeavingSubject, []byte(w.id))
	_ = conn.NC.Flush()
	stopFetching()
	drain := time.Duration(cfg.Worker.DrainSeconds) * time.Second
	log.Info("worker draining", "in_flight", w.inFlight.Load(), "drain", drain.String())
	done := make(chan struct{})
	go func() { wg.Wait(); w.directRuns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		log.Warn("drain time over; handing calls back to the queue", "in_flight", w.inFlight.Load())
		stopRunning()
		<-done
	}
	w.deliveries.Wait()
	stopHeartbeat()
	log.Info("worker stopped")
	return nil
}

// callLoop takes one call at a time from the queue until fetchCtx ends,
// fetching only when a slot is free.
func (w *Worker) callLoop(fetchCtx, runCtx context.Context, cons jetstream.Consumer) {
	for w.slots.startFetch(fetchCtx) {
		batch, done, err := fetchOne(fetchCtx, cons)
		if err != nil {
			w.slots.endFetch()
			if fetchCtx.Err() != nil {
				return
			}
			w.log.Warn("fetch call failed", "error", err)
			sleepCtx(fetchCtx, time.Second)
			continue
		}
		got := false
		for msg := range batch.Messages() {
			got = true
			if !w.takeSlotFor(runCtx, msg) {
				_ = msg.Nak()
				continue
			}
			w.handleCall(runCtx, msg)
			w.slots.release()
		}
		if !got {
			w.slots.endFetch()
		}
		done()
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) &&
			!errors.Is(err, context.Canceled) && fetchCtx.Err() == nil {
			w.log.Debug("fetch batch ended", "error", err)
		}
	}
}

// takeSlotFor takes a slot for a fetched call, telling the queue the call
// is in hand while direct calls hold every slot.
func (w *Worker) takeSlotFor(ctx context.Context, msg jetstream.Msg) bool {
	waiting, stop := context.WithCancel(ctx)
	defer stop()
	return w.slots.takeFetched(ctx, func() { go keepInProgress(waiting, msg) })
}

// keepInProgress tells JetStream, until ctx ends, that msg's call is in
// hand; a call whose worker goes silent is redelivered after
// bus.CallAckWait.
func keepInProgress(ctx context.Context, msg jetstream.Msg) {
	t := time.NewTicker(bus.CallProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = msg.InProgress()
		}
	}
}

// heartbeat publishes the worker's status every bus.WorkerHeartbeatInterval.
func (w *Worker) heartbeat(ctx context.Context, status func() bus.RoleStatus) {
	t := time.NewTicker(bus.WorkerHeartbeatInterval)
	defer t.Stop()
	for {
		if data, err := json.Marshal(status()); err == nil {
			_ = w.conn.NC.Publish(bus.WorkerHeartbeatSubject, data)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fetchOne pulls at most one message, waiting up to 5s for it, and gives
// up at once when ctx ends. The caller ranges over the batch's messages,
// then calls done.
func fetchOne(ctx context.Context, cons jetstream.Consumer) (batch jetstream.MessageBatch, done func(), err error) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	batch, err = cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return batch, cancel, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// functionEnv is the whole environment a function process gets: enough to
// find interpreters and behave, and none of the server's variables (bus
// credentials, secrets, TINYBASE_* settings).
func functionEnv(home string, isolated bool) []string {
	env := []string{"HOME=" + home, "PYTHONDONTWRITEBYTECODE=1"}
	path := os.Getenv("PATH")
	if isolated {
		path = reachablePath(path)
	}
	env = append(env, "PATH="+path)
	for _, k := range []string{"LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
