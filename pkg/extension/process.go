package extension

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tinybase/tinybase/pkg/extension/wire"
	"github.com/tinybase/tinybase/pkg/version"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// Process states shown in the list.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateFailed   = "failed"  // crashed or failed to start; restarting with backoff
	StateRefused  = "refused" // not started: the binary changed since install
	StateStopped  = "stopped"
)

// Restart backoff bounds. A process that ran for resetAfter before it
// died starts again after minBackoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
	resetAfter = 30 * time.Second
	pollExited = 50 * time.Millisecond
	// gracefulStop is how long a stopping plugin may take to exit on its
	// own before its whole process group is killed.
	gracefulStop = 2500 * time.Millisecond
)

// startTimeout bounds a plugin's start (handshake and Describe); a
// variable so that tests can shorten it.
var startTimeout = 10 * time.Second

// Status is the runtime state of an installed extension.
type Status struct {
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
	PID       int    `json:"pid,omitempty"`
	Restarts  int    `json:"restarts"`
}

// proc owns one extension's plugin process: it starts it, restarts it
// with backoff when it dies, and holds the one gRPC connection every hook
// and route call goes through.
type proc struct {
	name, path, sum string
	log             *slog.Logger
	// host serves the Host service for this extension; nil while
	// describing at install.
	host extv1.HostServer

	// onStart, when set, runs after every successful start.
	onStart func()

	mu      sync.RWMutex
	client  *plugin.Client
	cmd     *exec.Cmd // of client, for killing its process group
	ext     extv1.ExtensionClient
	status  Status
	desc    *extv1.DescribeResponse
	started chan struct{} // closed at the first successful start or refusal

	failMu sync.Mutex
	fails  failureLog
	drops  failureLog

	wake     chan struct{}
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

func newProc(name, path, sum string, log *slog.Logger, host extv1.HostServer) *proc {
	if name != "" {
		log = log.With("extension", name)
	}
	p := &proc{name: name, path: path, sum: sum, log: log, host: host,
		status: Status{State: StateStarting}, started: make(chan struct{}), wake: make(chan struct{}, 1),
		stopCh: make(chan struct{}), done: make(chan struct{})}
	p.fails.every.Interval = time.Second
	p.drops.every.Interval = time.Second
	return p
}

// client returns the extension's gRPC client, or ErrUnavailable.
func (p *proc) conn() (extv1.ExtensionClient, error) {
	p.mu.RLock()
	c := p.ext
	p.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %s is %s", ErrUnavailable, p.name, p.state())
	}
	return c, nil
}

func (p *proc) state() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.status.State
}

// Status returns a copy of the runtime state.
func (p *proc) Status() Status {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.status
}

// nudge asks the supervising loop to check the process now, after a call
// failed in a way that suggests it died.
func (p *proc) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run supervises the process until stop. Call it in its own goroutine.
func (p *proc) run() {
	defer close(p.done)
	defer p.kill()
	backoff := minBackoff
	first := true
	for {
		err := p.start()
		switch {
		case errors.Is(err, ErrChecksum):
			p.set(StateRefused, err)
		case err != nil:
			p.set(StateFailed, err)
		default:
			p.set(StateRunning, nil)
			if p.onStart != nil {
				p.onStart()
			}
		}
		if first {
			first = false
			close(p.started)
		}
		if errors.Is(err, ErrChecksum) {
			p.log.Error("extension refused: not started", "error", err, "path", p.path)
			<-p.stopCh
			return
		}
		if err != nil {
			p.log.Error("extension failed to start", "error", err, "retry_in", backoff.String())
		} else {
			began := time.Now()
			if !p.waitExit() {
				return
			}
			if time.Since(began) > resetAfter {
				backoff = minBackoff
			}
			p.mu.Lock()
			p.status.Restarts++
			p.mu.Unlock()
			p.set(StateFailed, errors.New("process exited"))
			p.log.Error("extension process exited; restarting", "retry_in", backoff.String())
		}
		select {
		case <-p.stopCh:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// waitExit blocks until the process exits (true) or stop is asked (false).
//
// TODO(extensions): go-plugin reports an exit only once the plugin's pipes
// close, so a plugin that dies while a child of its own holds them open
// is noticed only when calls fail and stop kills its group.
func (p *proc) waitExit() bool {
	t := time.NewTicker(pollExited)
	defer t.Stop()
	for {
		select {
		case <-p.stopCh:
			return false
		case <-t.C:
		case <-p.wake:
		}
		p.mu.RLock()
		c := p.client
		p.mu.RUnlock()
		if c == nil || c.Exited() {
			p.kill()
			return true
		}
	}
}

func (p *proc) set(state string, err error) {
	p.mu.Lock()
	p.status.State = state
	if err != nil {
		p.status.LastError = err.Error()
	} else if state == StateRunning {
		p.status.LastError = ""
	}
	if state != StateRunning {
		p.status.PID = 0
	}
	p.mu.Unlock()
}

// start verifies the checksum, starts the process, connects, serves the
// host service on the broker and describes the extension.
func (p *proc) start() error {
	if err := verify(p.path, p.sum); err != nil {
		return err
	}
	cmd := exec.Command(p.path)
	// A minimal environment: never the server's secrets or configuration.
	cmd.Env = pluginEnv(p.name)
	cmd.Dir = filepath.Dir(p.path)
	setProcAttrs(cmd)
	stderr, stdio := newLineLogger(p.log), newLineLogger(p.log)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		Plugins:          plugin.PluginSet{wire.PluginName: &wire.Plugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     secureConfig(p.sum),
		StartTimeout:     startTimeout,
		// A fixed window turns off gRPC's bandwidth probing, whose pings
		// would add frames to every small hook call.
		GRPCDialOptions: []grpc.DialOption{grpc.WithInitialWindowSize(1 << 20),
			grpc.WithInitialConnWindowSize(1 << 20), grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(wire.MaxMessage), grpc.MaxCallSendMsgSize(wire.MaxMessage))},
		Stderr: stderr,
		// What the plugin writes to os.Stdout and os.Stderr once serving
		// travels over go-plugin's stdio stream, not the process's pipes.
		SyncStdout: stdio,
		SyncStderr: stdio,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Error,
			Output: stderr}),
	})
	fail := func(err error) error {
		// The group first: a child holding the plugin's stdout or stderr
		// open would otherwise keep client.Kill waiting for it.
		killGroup(cmd)
		client.Kill()
		return err
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		return fail(fmt.Errorf("connect: %w", err))
	}
	wc, ok := raw.(*wire.Client)
	if !ok {
		return fail(errors.New("connect: unexpected plugin type"))
	}
	var brokerID uint32
	if p.host != nil {
		brokerID = wc.Broker.NextId()
		host := p.host
		go wc.Broker.AcceptAndServe(brokerID, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(wire.MaxMessage),
				grpc.MaxSendMsgSize(wire.MaxMessage))...)
			extv1.RegisterHostServer(s, host)
			return s
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	desc, err := wc.Ext.Describe(ctx, &extv1.DescribeRequest{TinybaseVersion: version.Version,
		HostBrokerId: brokerID})
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if p.name != "" && desc.Name != p.name {
		return fail(fmt.Errorf("%w: binary describes itself as %q, installed as %q", ErrInvalid, desc.Name, p.name))
	}
	p.mu.Lock()
	p.client, p.cmd, p.ext, p.desc = client, cmd, wc.Ext, desc
	if rc := client.ReattachConfig(); rc != nil && rc.Pid > 0 {
		p.status.PID = rc.Pid
	}
	p.mu.Unlock()
	pid := p.Status().PID
	p.log.Info("extension started", "version", desc.Version, "pid", pid)
	return nil
}

// kill ends the current process, if any, and everything it started: the
// plugin gets gracefulStop to exit on its own, then its process group is
// killed, which also closes pipes its children hold open.
func (p *proc) kill() {
	p.mu.Lock()
	c, cmd := p.client, p.cmd
	p.client, p.cmd, p.ext = nil, nil, nil
	p.mu.Unlock()
	if c == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		c.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(gracefulStop):
		killGroup(cmd)
		<-done
	}
	killGroup(cmd) // children left behind by a plugin that exited
}

// stop ends supervision and the process, and waits for both.
func (p *proc) stop() {
	p.stopOnce.Do(func() { close(p.stopCh) })
	<-p.done
	p.set(StateStopped, nil)
}

// verify checks the binary against its install checksum.
func verify(path, sum string) error {
	got, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("read binary: %w", err)
	}
	if sum != "" && got != sum {
		return fmt.Errorf("%w: expected %s, found %s", ErrChecksum, sum, got)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// secureConfig makes go-plugin check the checksum too, right before exec.
func secureConfig(sum string) *plugin.SecureConfig {
	if sum == "" {
		return nil
	}
	b, err := hex.DecodeString(sum)
	if err != nil {
		return nil
	}
	return &plugin.SecureConfig{Checksum: b, Hash: sha256.New()}
}
