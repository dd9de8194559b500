package supervisor

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Restart backoff: the first restart waits minBackoff, each quick crash
// doubles it up to maxBackoff, and a child that stayed up for stableAfter
// starts again from minBackoff.
const (
	minBackoff  = 250 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = 60 * time.Second
)

// child is one supervised role process.
type child struct {
	role, id string
	args     []string
	env      []string
	exe, dir string
	stopWait time.Duration
	sp       *spawner
	log      *slog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process exited
	stopping bool
	stopped  chan struct{} // closed when supervise returns
}

func newChild(role, id string, args, env []string, stopWait time.Duration, sp *spawner, log *slog.Logger) *child {
	return &child{role: role, id: id, args: args, env: env, stopWait: stopWait, sp: sp,
		log: log.With("child", id), stopped: make(chan struct{})}
}

// supervise keeps the child running until shutdown is called or ctx ends.
func (c *child) supervise(ctx context.Context) {
	defer close(c.stopped)
	backoff := minBackoff
	for {
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		cmd := exec.Command(c.exe, c.args...)
		cmd.Env = c.env
		cmd.Dir = c.dir
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		// Pdeathsig: the kernel kills the child when the supervisor dies,
		// even by SIGKILL. Setpgid keeps a terminal's Ctrl-C away from the
		// children so the supervisor can stop them in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		err := c.sp.start(cmd)
		if err != nil {
			c.mu.Unlock()
			c.log.Error("start role failed", "error", err)
		} else {
			c.cmd = cmd
			c.done = make(chan struct{})
			done := c.done
			c.mu.Unlock()
			c.log.Info("role started", "pid", cmd.Process.Pid)
			started := time.Now()
			werr := cmd.Wait()
			close(done)
			c.mu.Lock()
			stopping := c.stopping
			c.mu.Unlock()
			if stopping {
				c.log.Info("role stopped", "pid", cmd.Process.Pid, "exit", exitDesc(werr))
				return
			}
			if time.Since(started) > stableAfter {
				backoff = minBackoff
			}
			c.log.Warn("role exited; restarting", "pid", cmd.Process.Pid, "exit", exitDesc(werr),
				"restart_in", backoff.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// shutdown sends SIGTERM, waits up to stopWait, then kills the child.
func (c *child) shutdown() {
	c.mu.Lock()
	c.stopping = true
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil || cmd.Process == nil || done == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(c.stopWait):
		c.log.Warn("role did not stop in time; killing", "pid", cmd.Process.Pid, "waited", c.stopWait.String())
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// kill stops the child at once, with everything in its process group.
func (c *child) kill() {
	c.mu.Lock()
	c.stopping = true
	cmd := c.cmd
	c.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func exitDesc(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// spawner starts every child from one OS thread that never exits. Linux
// sends the parent-death signal when the thread that forked the child
// exits, not the process, so forking from arbitrary goroutines could kill
// children whenever the Go runtime retires a thread.
type spawner struct {
	reqs chan spawnReq
	quit chan struct{}
	once sync.Once
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with the process.
		close(ready)
		for {
			select {
			case r := <-s.reqs:
				r.err <- r.cmd.Start()
			case <-s.quit:
				// Park forever rather than return, so the locked thread is
				// not destroyed while children still run.
				select {}
			}
		}
	}()
	<-ready
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.err
	case <-s.quit:
		return os.ErrClosed
	}
}

func (s *spawner) stop() { s.once.Do(func() { close(s.quit) }) }
