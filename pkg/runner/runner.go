// Package runner runs function processes for the worker role.
//
// A function is an executable file speaking the TinyBase function protocol
// (version 1, see docs/functions.md): `<cmd> --metadata` describes it, and
// `<cmd> --serve` answers one JSON request line with one JSON response line
// until stdin is closed. The runner keeps warm processes per function
// digest, so a call usually skips interpreter start-up, and isolates each
// process: its own process group, a fixed environment, a kill on timeout
// that takes every descendant with it.
//
// The runner never touches the bus or the database; the worker feeds it
// requests and reports results.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// ProtocolVersion is the version of the function protocol the runner speaks;
// a serve process announces it in its ready line.
const ProtocolVersion = 1

// Call statuses, as in the TinyBase function call response.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultMaxResultBytes = 10 << 20
	DefaultMaxStderrBytes = 64 << 10
	DefaultKillGrace      = 2 * time.Second
)

// StartTimeout bounds how long a new process may take to say it is ready,
// independently of the call's own timeout.
const StartTimeout = 60 * time.Second

// lineSlack is how much longer than MaxResultBytes a response line may be
// before it is discarded unread: room for the envelope and error messages.
const lineSlack = 1 << 20

// Function identifies one version of a function file on local disk.
type Function struct {
	Name string
	// Path is the absolute path of the executable file.
	Path string
	// Digest is the content digest of the file. Warm processes are pooled
	// per digest, so two functions with the same digest must be the same
	// executable. An empty digest pools by path.
	Digest string
}

// Metadata is what `<cmd> --metadata` prints.
type Metadata struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Auth         string          `json:"auth"`
	Tags         []string        `json:"tags"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema"`
}

// CallContext is sent with every request and tells the function who called
// it and how to call back into the API.
type CallContext struct {
	APIBaseURL   string  `json:"api_base_url"`
	AuthToken    string  `json:"auth_token"`
	UserID       *string `json:"user_id"`
	IsAdmin      bool    `json:"is_admin"`
	RequestID    string  `json:"request_id"`
	FunctionName string  `json:"function_name"`
}

// Request is one function call.
type Request struct {
	// ID is the call id; it is echoed in the response. Empty means a new
	// UUID. Context.RequestID defaults to it.
	ID      string
	Context CallContext
	// Payload is the JSON payload; empty means {}.
	Payload json.RawMessage
	// Timeout bounds the call from when its process has the request (start-up
	// of a new process is bounded by StartTimeout instead); zero means
	// only ctx bounds it.
	Timeout time.Duration
}

// Result is the outcome of a call. Failures of any kind are Results with
// Status "failed", never Go errors.
type Result struct {
	Status       string
	Result       json.RawMessage
	ErrorMessage string
	ErrorType    string
	// Stderr is the tail (Options.MaxStderrBytes) of what the process wrote
	// to stderr during this call.
	Stderr   string
	Duration time.Duration
}

// Options configures a Runner. Zero values get the documented defaults.
type Options struct {
	// PoolSize is the number of idle warm processes kept per digest. Zero
	// starts a new process for every call and stops it afterwards.
	PoolSize int
	// IdleTTL stops idle processes unused for this long; zero keeps them.
	IdleTTL time.Duration
	// Env is the complete environment of function processes. The runner
	// only adds PYTHONPATH=<SDKDir> and PYTHONUNBUFFERED=1; the worker's own
	// environment is never passed on. Include PATH (and HOME for uv) here.
	Env []string
	// SDKDir is the directory holding the tinybase_sdk package.
	SDKDir string
	// MaxResultBytes bounds a result; larger ones fail with
	// ResultSizeError. Default 10 MiB.
	MaxResultBytes int
	// MaxStderrBytes bounds Result.Stderr (the tail is kept). Default 64 KiB.
	MaxStderrBytes int
	// KillGrace is how long a process may take to exit after stdin is closed
	// or SIGTERM is sent before it is killed. Default 2s.
	KillGrace time.Duration
	// Logger receives process lifecycle events and function stderr lines at
	// debug level. Default: discard.
	Logger *slog.Logger
	// Isolation, when set, runs function processes as another user and in
	// their own PID namespace (Linux; needs the worker to run as root).
	Isolation *Isolation
}

// Isolation separates function processes from the worker. Running as a
// different user keeps them out of files only the worker's user may read
// (the project's secrets and database); a PID namespace of their own means
// that when a function process dies, the kernel kills everything it
// started, even after the worker itself was killed.
type Isolation struct {
	UID, GID uint32
	// NewPIDNamespace starts each process as PID 1 of a new namespace.
	NewPIDNamespace bool
}

// Runner starts, pools and stops function processes. It is safe for
// concurrent use; each concurrent call gets a process of its own.
type Runner struct {
	opts Options
	env  []string
	log  *slog.Logger

	mu     sync.Mutex
	idle   map[string][]*process
	gens   map[string]uint64
	busy   int
	closed bool

	quit       chan struct{}
	reaperDone chan struct{}
	calls      sync.WaitGroup // calls in flight
	stops      sync.WaitGroup // background process stops
	closeOnce  sync.Once
}

// New returns a Runner. It starts the idle reaper when opts.IdleTTL > 0;
// Close stops it.
func New(opts Options) *Runner {
	if opts.PoolSize < 0 {
		opts.PoolSize = 0
	}
	if opts.MaxResultBytes <= 0 {
		opts.MaxResultBytes = DefaultMaxResultBytes
	}
	if opts.MaxStderrBytes <= 0 {
		opts.MaxStderrBytes = DefaultMaxStderrBytes
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		opts:       opts,
		env:        buildEnv(opts.Env, opts.SDKDir),
		log:        opts.Logger,
		idle:       make(map[string][]*process),
		gens:       make(map[string]uint64),
		quit:       make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	if opts.IdleTTL > 0 {
		go r.reap()
	} else {
		close(r.reaperDone)
	}
	return r
}

// Call runs one request on a warm or new process of fn and returns its
// result. Timeouts, crashes, protocol errors and the end of ctx are reported
// as failed Results: a passed ctx deadline as TimeoutError, a cancellation
// as Cancelled.
func (r *Runner) Call(ctx context.Context, fn Function, req Request) Result {
	start := time.Now()
	res := r.call(ctx, fn, req)
	res.Duration = time.Since(start)
	return res
}

func (r *Runner) call(ctx context.Context, fn Function, req Request) Result {
	if ctx.Err() != nil {
		return ctxFailure(ctx)
	}
	if !r.enter() {
		return failed(ErrorTypeCancelled, "Function call cancelled: runner closed")
	}
	defer r.calls.Done()

	line, err := encodeRequest(fn, &req)
	if err != nil {
		return failed(ErrorTypeInvalidRequest, err.Error())
	}
	key := poolKey(fn)
	p := r.takeIdle(key)
	if p != nil {
		p.stderr.beginCapture(r.opts.MaxStderrBytes)
	} else {
		p, err = r.spawn(fn, key)
		if err != nil {
			return failed(ErrorTypeStart, err.Error())
		}
		// Starting a process (interpreter, imports) is bounded on its own,
		// so a slow start-up never eats into the call's time, and a
		// function whose start-up alone exceeds its timeout still becomes
		// a warm process.
		start := time.NewTimer(max(StartTimeout, req.Timeout))
		res, ok := r.handshake(ctx, p, start.C)
		start.Stop()
		if !ok {
			return res
		}
	}
	var deadline <-chan time.Time
	if req.Timeout > 0 {
		timer := time.NewTimer(req.Timeout)
		defer timer.Stop()
		deadline = timer.C
	}

	write := p.send(line)
	l, out := r.await(ctx, p, deadline, write)
	if out != gotLine {
		return r.abort(ctx, p, out)
	}
	stderr := p.stderr.endCapture()
	res, reusable := r.parseResponse(p, l, req.ID)
	res.Stderr = stderr
	// The write normally returned before the answer came, but its goroutine
	// may not have run yet. A process that answers without reading the
	// whole request is not reused: the next request would interleave with
	// the rest of this one.
	timer := time.NewTimer(r.opts.KillGrace)
	select {
	case <-write.done:
		reusable = reusable && write.err == nil
	case <-timer.C:
		reusable = false
	}
	timer.Stop()
	r.release(p, reusable)
	return res
}

func encodeRequest(fn Function, req *Request) ([]byte, error) {
	if req.ID == "" {
		req.ID = uuid.NewString()
	}
	if req.Context.RequestID == "" {
		req.Context.RequestID = req.ID
	}
	if req.Context.FunctionName == "" {
		req.Context.FunctionName = fn.Name
	}
	payload := req.Payload
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = json.RawMessage("{}")
	}
	// Marshal validates and compacts the payload, so the request is exactly
	// one line.
	line, err := json.Marshal(struct {
		ID      string          `json:"id"`
		Context CallContext     `json:"context"`
		Payload json.RawMessage `json:"payload"`
	}{req.ID, req.Context, payload})
	if err != nil {
		return nil, fmt.Errorf("invalid payload: %w", err)
	}
	return append(line, '\n'), nil
}

// outcome is how waiting for a line from a process ended.
type outcome int

const (
	gotLine outcome = iota
	timedOut
	cancelled
	closing
	died
)

// await waits for the next stdout line of p, the deadline, ctx, the runner
// closing, or the process dying.
func (r *Runner) await(ctx context.Context, p *process, deadline <-chan time.Time,
	write *sendOp) (stdoutLine, outcome) {
	var written <-chan struct{}
	if write != nil {
		written = write.done
	}
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return stdoutLine{}, died
			}
			return l, gotLine
		case <-written:
			if write.err != nil {
				return stdoutLine{}, died
			}
			written = nil
		case <-p.exited:
			// The process may have answered right before exiting. Kill
			// what is left of its group so the pipe reaches EOF, then take
			// the answer if there is one.
			signalGroup(p.pid, syscall.SIGKILL)
			timer := time.NewTimer(r.opts.KillGrace)
			defer timer.Stop()
			select {
			case l, ok := <-p.lines:
				if ok {
					return l, gotLine
				}
			case <-timer.C:
			}
			return stdoutLine{}, died
		case <-deadline:
			return stdoutLine{}, timedOut
		case <-ctx.Done():
			return stdoutLine{}, cancelled
		case <-r.quit:
			return stdoutLine{}, closing
		}
	}
}

// handshake waits for the ready line of a new process. Lines before it
// (for example a print at import time) are logged and skipped.
func (r *Runner) handshake(ctx context.Context, p *process, deadline <-chan time.Time) (Result, bool) {
	for {
		l, out := r.await(ctx, p, deadline, nil)
		if out != gotLine {
			return r.abort(ctx, p, out), false
		}
		var ready struct {
			Ready    bool `json:"ready"`
			Protocol int  `json:"protocol"`
		}
		if l.oversize || json.Unmarshal(l.data, &ready) != nil || !ready.Ready {
			r.log.Debug("function output before ready line", "function", p.fnName, "pid", p.pid,
				"line", truncate(l.data, 200))
			continue
		}
		if ready.Protocol != ProtocolVersion {
			stderr := p.stderr.endCapture()
			r.release(p, false)
			res := failed(ErrorTypeProtocol, fmt.Sprintf("unsupported function protocol version %d", ready.Protocol))
			res.Stderr = stderr
			return res, false
		}
		return Result{}, true
	}
}

// abort ends a call that got no answer and discards its process.
func (r *Runner) abort(ctx context.Context, p *process, out outcome) Result {
	var res Result
	switch out {
	case died:
		// Stop synchronously: the process is gone already, and waiting for
		// the pipes to drain puts its last words into the message.
		p.stop(false, r.opts.KillGrace)
		// The message goes back to whoever called the function, so it
		// does not carry the process's output (tracebacks with paths,
		// whatever the code printed); that stays in Result.Stderr, kept
		// with the call record for the function's owner.
		stderr := p.stderr.endCapture()
		res = failed(ErrorTypeSubprocess, "Function process exited unexpectedly; its output is kept in the call record")
		res.Stderr = stderr
		r.release(p, false)
		return res
	case timedOut:
		res = failed(ErrorTypeTimeout, "Function execution timeout")
	case cancelled:
		res = ctxFailure(ctx)
	case closing:
		res = failed(ErrorTypeCancelled, "Function call cancelled: runner closed")
	}
	res.Stderr = p.stderr.endCapture()
	r.release(p, false)
	return res
}

type wireResponse struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Result    json.RawMessage `json:"result"`
	Error     string          `json:"error"`
	ErrorType string          `json:"error_type"`
}

// parseResponse turns a response line into a Result and reports whether the
// process is still in step with the protocol.
func (r *Runner) parseResponse(p *process, l stdoutLine, id string) (Result, bool) {
	if l.oversize {
		return failed(ErrorTypeResultSize, r.resultSizeMessage()), true
	}
	var resp wireResponse
	if err := json.Unmarshal(l.data, &resp); err != nil {
		r.log.Warn("function wrote an invalid response", "function", p.fnName, "pid", p.pid, "error", err)
		return failed(ErrorTypeJSONDecode, "Failed to parse function output: "+err.Error()), false
	}
	if resp.ID != id {
		r.log.Warn("function answered another request", "function", p.fnName, "pid", p.pid,
			"want", id, "got", resp.ID)
		return failed(ErrorTypeProtocol, fmt.Sprintf("response id %q does not match request id %q", resp.ID, id)), false
	}
	if resp.Status != StatusSucceeded {
		res := failed(resp.ErrorType, resp.Error)
		if res.ErrorType == "" {
			res.ErrorType = ErrorTypeUnknown
		}
		if res.ErrorMessage == "" {
			res.ErrorMessage = "Unknown error"
		}
		return res, true
	}
	result := resp.Result
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	if len(result) > r.opts.MaxResultBytes {
		return failed(ErrorTypeResultSize, r.resultSizeMessage()), true
	}
	return Result{Status: StatusSucceeded, Result: result}, true
}

func (r *Runner) resultSizeMessage() string {
	return fmt.Sprintf("Result exceeds maximum size of %d bytes", r.opts.MaxResultBytes)
}

// ctxFailure reports the end of ctx: a passed deadline is a timeout like
// Request.Timeout, anything else a cancellation.
func ctxFailure(ctx context.Context) Result {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return failed(ErrorTypeTimeout, "Function execution timeout")
	}
	return failed(ErrorTypeCancelled, "Function call cancelled: "+context.Cause(ctx).Error())
}

func failed(errorType, message string) Result {
	return Result{Status: StatusFailed, ErrorType: errorType, ErrorMessage: message}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func poolKey(fn Function) string {
	if fn.Digest != "" {
		return fn.Digest
	}
	return "path:" + fn.Path
}

// enter registers a call unless the runner is closed.
func (r *Runner) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.calls.Add(1)
	return true
}

// takeIdle returns the most recently used live idle process for key.
func (r *Runner) takeIdle(key string) *process {
	r.mu.Lock()
	defer r.mu.Unlock()
	for list := r.idle[key]; len(list) > 0; list = r.idle[key] {
		p := list[len(list)-1]
		r.setIdleLocked(key, list[:len(list)-1])
		if p.hasExited() {
			r.stopLater(p, false)
			continue
		}
		r.busy++
		return p
	}
	return nil
}

func (r *Runner) setIdleLocked(key string, list []*process) {
	if len(list) == 0 {
		delete(r.idle, key)
		return
	}
	r.idle[key] = list
}

func (r *Runner) spawn(fn Function, key string) (*process, error) {
	r.mu.Lock()
	gen := r.gens[key]
	r.busy++
	r.mu.Unlock()
	p, err := startProcess(fn, key, gen, spawnConfig{
		env:       r.env,
		iso:       r.opts.Isolation,
		maxLine:   r.opts.MaxResultBytes + lineSlack,
		maxStderr: r.opts.MaxStderrBytes,
		log:       r.log,
	})
	if err != nil {
		r.mu.Lock()
		r.busy--
		r.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// release ends a call's use of p: back to the idle pool when it is healthy,
// there is room and its version was not dropped; stopped otherwise.
func (r *Runner) release(p *process, reusable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy--
	if reusable && !r.closed && p.gen == r.gens[p.key] &&
		len(r.idle[p.key]) < r.opts.PoolSize && !p.hasExited() {
		p.lastUsed = time.Now()
		r.idle[p.key] = append(r.idle[p.key], p)
		return
	}
	r.stopLater(p, reusable)
}

// stopLater stops p in the background; Close waits for it. r.mu is held.
func (r *Runner) stopLater(p *process, graceful bool) {
	r.stops.Add(1)
	go func() {
		defer r.stops.Done()
		p.stop(graceful, r.opts.KillGrace)
	}()
}

// Drop stops the idle processes of digest, typically because that version
// of a function was replaced or deleted, and waits for them. Processes of
// digest that are busy are stopped when their call finishes.
func (r *Runner) Drop(digest string) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.gens[digest]++
	list := r.idle[digest]
	delete(r.idle, digest)
	r.stops.Add(len(list))
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.stops.Done()
			p.stop(true, r.opts.KillGrace)
		}()
	}
	wg.Wait()
}

// Stats returns the number of idle and busy processes.
func (r *Runner) Stats() (idle, busy int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, list := range r.idle {
		idle += len(list)
	}
	return idle, r.busy
}

// Close cancels calls in flight, stops every process group and waits for
// all of them. It is safe to call more than once.
func (r *Runner) Close() {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		var idle []*process
		for _, list := range r.idle {
			idle = append(idle, list...)
		}
		r.idle = make(map[string][]*process)
		r.mu.Unlock()

		close(r.quit)
		<-r.reaperDone
		var wg sync.WaitGroup
		for _, p := range idle {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stop(true, r.opts.KillGrace)
			}()
		}
		r.calls.Wait()
		wg.Wait()
		r.stops.Wait()
		r.log.Debug("function runner closed")
	})
}

// reap stops idle processes unused for longer than IdleTTL, and idle
// processes that died on their own.
func (r *Runner) reap() {
	defer close(r.reaperDone)
	interval := min(max(r.opts.IdleTTL/4, 10*time.Millisecond), 30*time.Second)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-r.quit:
			return
		case now := <-ticker.C:
			r.reapOnce(now)
		}
	}
}

func (r *Runner) reapOnce(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for key, list := range r.idle {
		kept := list[:0]
		for _, p := range list {
			switch {
			case p.hasExited():
				r.stopLater(p, false)
			case now.Sub(p.lastUsed) >= r.opts.IdleTTL:
				r.log.Debug("stopping idle function process", "function", p.fnName, "pid", p.pid)
				r.stopLater(p, true)
			default:
				kept = append(kept, p)
			}
		}
		r.setIdleLocked(key, kept)
	}
}
