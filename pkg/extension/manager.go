// Package extension runs TinyBase extensions: separate programs started
// as hashicorp/go-plugin subprocesses of the api and spoken to over gRPC
// (proto/tinybase/extension/v1). It installs and checksums their binaries,
// supervises their processes (restart with backoff), calls their hooks
// with timeouts and a per-extension failure policy, forwards HTTP routes,
// validates their settings and serves them the host service.
//
// It never imports HTTP or the bus; pkg/api translates.
package extension

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// DefaultHookTimeout bounds one hook call when Options.HookTimeout is 0.
const DefaultHookTimeout = 2 * time.Second

// Options configures a Manager.
type Options struct {
	DB *store.DB
	// Dir holds installed extensions, one folder each.
	Dir    string
	Logger *slog.Logger
	// HookTimeout bounds each hook call (default DefaultHookTimeout).
	HookTimeout time.Duration
	// RouteTimeout bounds each route call (default RouteTimeout).
	RouteTimeout time.Duration
	// Disabled keeps every extension stopped ([extensions] enabled = false);
	// they can still be listed.
	Disabled bool
	// Host is what the host service reaches; fields may be nil.
	Host HostDeps
	// AfterQueue is the length of each extension's after-hook queue
	// (default 1024); events beyond it are dropped and logged.
	AfterQueue int
}

// Manager owns the installed extensions and their processes.
type Manager struct {
	opts Options
	rows rows
	log  *slog.Logger

	mu    sync.Mutex // serialises lifecycle changes
	procs map[string]*running
	// live mirrors procs for readers on the request path (routes, status),
	// which must not wait for m.mu while an extension starts or stops.
	live sync.Map // name → *running
	// table is the hook routing in force, rebuilt on every change, read
	// lock-free on the request path.
	table atomic.Pointer[hookTable]
	// manifests of installed extensions by name, for settings validation.
	manifests atomic.Pointer[map[string]Manifest]
}

// running is an enabled extension: its process and after-hook worker.
type running struct {
	row Row // as at launch; only the policy changes later, in policy
	// policy is the failure policy in force (PATCH changes it live).
	policy atomic.Value
	proc   *proc
	queue  chan *extv1.HookRequest
	done   chan struct{}
}

// NewManager returns a Manager; call Start to run the enabled extensions.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = DefaultHookTimeout
	}
	if opts.RouteTimeout <= 0 {
		opts.RouteTimeout = RouteTimeout
	}
	if opts.AfterQueue <= 0 {
		opts.AfterQueue = 1024
	}
	m := &Manager{opts: opts, rows: rows{db: opts.DB}, log: opts.Logger.With("component", "extensions"),
		procs: map[string]*running{}}
	m.table.Store(&hookTable{})
	m.manifests.Store(&map[string]Manifest{})
	return m
}

// Start starts every enabled extension without waiting for them: a
// missing or broken binary is logged and shown in the list, and never
// stops the api.
func (m *Manager) Start(ctx context.Context) error {
	list, err := m.rows.list(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range list {
		if r.IsEnabled && !m.opts.Disabled {
			m.launch(r)
		}
	}
	m.refresh(list)
	return nil
}

// Close stops every extension process and waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.table.Store(&hookTable{}) // no new hook calls reach what is stopping
	var wg sync.WaitGroup
	for name, r := range m.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.halt(r)
		}()
		delete(m.procs, name)
		m.live.Delete(name)
	}
	wg.Wait()
}

// launch starts an extension's process and after-hook worker. Callers
// hold m.mu.
func (m *Manager) launch(r Row) {
	p := newProc(r.Name, r.Path, r.SHA256, m.log, m.hostFor(r.Name))
	p.onStart = func() { m.warnBadSettings(r.Name, r.Manifest) }
	run := &running{row: r, proc: p, queue: make(chan *extv1.HookRequest, m.opts.AfterQueue),
		done: make(chan struct{})}
	run.policy.Store(r.Policy)
	m.procs[r.Name] = run
	m.live.Store(r.Name, run)
	go p.run()
	go m.drain(run)
}

// halt stops an extension's worker and process. Queued after-hooks are
// delivered for up to two hook timeouts; then the process is stopped and
// the rest fail at once.
func (m *Manager) halt(r *running) {
	close(r.queue)
	select {
	case <-r.done:
	case <-time.After(2 * m.opts.HookTimeout):
	}
	r.proc.stop()
	<-r.done
}

// refresh rebuilds the hook table and the manifest map from the rows.
// Callers hold m.mu.
func (m *Manager) refresh(list []Row) {
	mf := make(map[string]Manifest, len(list))
	for _, r := range list {
		mf[r.Name] = r.Manifest
	}
	m.manifests.Store(&mf)
	var targets []*running
	for _, r := range m.procs {
		targets = append(targets, r)
	}
	slices.SortFunc(targets, func(a, b *running) int {
		switch {
		case a.row.Name < b.row.Name:
			return -1
		case a.row.Name > b.row.Name:
			return 1
		}
		return 0
	})
	m.table.Store(buildTable(targets))
}

func (m *Manager) reload(ctx context.Context) error {
	list, err := m.rows.list(ctx)
	if err != nil {
		return err
	}
	m.refresh(list)
	return nil
}

// Info is an installed extension with its runtime state.
type Info struct {
	Row
	Status Status
}

// List returns the installed extensions ordered by name.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	list, err := m.rows.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(list))
	for _, r := range list {
		out = append(out, m.info(r))
	}
	return out, nil
}

// Get returns one installed extension.
func (m *Manager) Get(ctx context.Context, name string) (Info, error) {
	r, err := m.rows.get(ctx, name)
	if err != nil {
		return Info{}, err
	}
	return m.info(r), nil
}

func (m *Manager) info(r Row) Info {
	run := m.running(r.Name)
	st := Status{State: StateStopped}
	if run != nil {
		st = run.proc.Status()
	} else if r.IsEnabled && m.opts.Disabled {
		st.LastError = ErrDisabled.Error()
	}
	return Info{Row: r, Status: st}
}

// Update changes whether an extension runs and its failure policy (nil
// leaves a value as it is). Enabling starts the process and disabling
// stops it, with no restart of the api.
func (m *Manager) Update(ctx context.Context, name string, enabled *bool, policy *string) (Info, error) {
	if policy != nil && *policy != PolicyOpen && *policy != PolicyClosed {
		return Info{}, fmt.Errorf("%w: policy must be %q or %q", ErrInvalid, PolicyOpen, PolicyClosed)
	}
	m.mu.Lock()
	r, err := m.rows.update(ctx, name, enabled, policy)
	if err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	run := m.procs[name]
	var stopping *running
	switch {
	case r.IsEnabled && run == nil && !m.opts.Disabled:
		m.launch(r)
		// Route hooks to it once it runs (or has failed its first start),
		// not while it starts.
		m.waitFirstStart(m.procs[name])
	case !r.IsEnabled && run != nil:
		delete(m.procs, name)
		m.live.Delete(name)
		stopping = run
	case run != nil:
		run.policy.Store(r.Policy)
	}
	err = m.reload(ctx)
	if stopping != nil {
		m.halt(stopping) // after the hooks no longer reach it
	}
	m.mu.Unlock()
	if err != nil {
		return Info{}, err
	}
	return m.info(r), nil
}

// Uninstall stops an extension, deletes its row, its folder and its
// stored ext.<name>.* settings: a later install, perhaps of another
// version with other schemas, starts from its defaults.
func (m *Manager) Uninstall(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.rows.get(ctx, name)
	if err != nil {
		return err
	}
	if run := m.procs[name]; run != nil {
		delete(m.procs, name)
		m.live.Delete(name)
		if err := m.reload(ctx); err != nil {
			return err
		}
		m.halt(run)
	}
	if err := m.rows.delete(ctx, name); err != nil {
		return err
	}
	if err := m.deleteSettings(ctx, name); err != nil {
		m.log.Error("delete settings of uninstalled extension", "extension", name, "error", err)
	}
	if dir := filepath.Dir(r.Path); m.inDir(dir) {
		if err := os.RemoveAll(dir); err != nil {
			m.log.Warn("remove extension folder", "extension", name, "error", err)
		}
	}
	m.log.Info("extension uninstalled", "extension", name)
	return m.reload(ctx)
}

// inDir reports whether path is strictly inside the extensions folder.
func (m *Manager) inDir(path string) bool {
	root, err := filepath.Abs(m.opts.Dir)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel)
}

// waitFirstStart waits, bounded, until a process's first start attempt
// has finished.
func (m *Manager) waitFirstStart(r *running) {
	select {
	case <-r.proc.started:
	case <-time.After(startTimeout):
	}
}

// WaitStarted waits until an extension's first start attempt finished
// (tests and install use it); it returns its status.
func (m *Manager) WaitStarted(ctx context.Context, name string) (Status, error) {
	run := m.running(name)
	if run == nil {
		return Status{State: StateStopped}, ErrUnavailable
	}
	select {
	case <-run.proc.started:
		return run.proc.Status(), nil
	case <-ctx.Done():
		return run.proc.Status(), ctx.Err()
	}
}

// running returns the extension's process if it is enabled, without
// waiting for a start or stop in progress.
func (m *Manager) running(name string) *running {
	if v, ok := m.live.Load(name); ok {
		return v.(*running)
	}
	return nil
}
