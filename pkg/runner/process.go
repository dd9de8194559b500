package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// stdoutLine is one line a function process wrote to its protocol stream.
// Lines longer than the limit are not kept: oversize is set instead.
type stdoutLine struct {
	data     []byte
	oversize bool
}

// process is one function process started with --serve. It is owned by
// exactly one caller at a time: a running call, the idle pool, or a stop.
type process struct {
	key    string // pool key (the function digest)
	gen    uint64 // pool generation at start; Drop bumps it
	fnName string
	pid    int
	cmd    *exec.Cmd
	log    *slog.Logger

	stdin  *os.File
	stdout *os.File
	stderr *stderrPipe

	lines      chan stdoutLine
	stdoutDone chan struct{}
	exited     chan struct{} // closed once cmd.Wait returned
	quit       chan struct{} // closed when the process is being stopped
	wg         sync.WaitGroup
	stopOnce   sync.Once

	lastUsed time.Time // guarded by Runner.mu while the process is idle
}

// spawnConfig is what startProcess needs from the Runner's options.
type spawnConfig struct {
	env       []string
	iso       *Isolation
	maxLine   int // longest stdout line kept
	maxStderr int // stderr captured per call
	log       *slog.Logger
}

// startProcess starts `<cmd> --serve` for fn. The caller then waits for the
// ready line (see Runner.handshake).
func startProcess(fn Function, key string, gen uint64, cfg spawnConfig) (*process, error) {
	name, args, err := command(fn.Path, cfg.env)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", fn.Path, err)
	}
	cmd := exec.Command(name, append(args, "--serve")...)
	cmd.Dir = filepath.Dir(fn.Path)
	cmd.Env = cfg.env
	setProcAttrs(cmd, cfg.iso)

	// The pipes are created here rather than with cmd.StdoutPipe so that
	// Wait does not close them: reading must go on until the readers are
	// done, and Wait must not block on a grandchild that inherited them.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	closeAll(inR, outW, errW) // the child has its copies
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, fmt.Errorf("start %s: %w", fn.Path, err)
	}

	p := &process{
		key:        key,
		gen:        gen,
		fnName:     fn.Name,
		pid:        cmd.Process.Pid,
		cmd:        cmd,
		log:        cfg.log,
		stdin:      inW,
		stdout:     outR,
		lines:      make(chan stdoutLine),
		stdoutDone: make(chan struct{}),
		exited:     make(chan struct{}),
		quit:       make(chan struct{}),
	}
	p.stderr, err = newStderrPipe(errR, p.logStderr)
	if err != nil {
		// Without a pollable pipe there is no way to read stderr safely.
		closeAll(inW, outR, errR)
		signalGroup(p.pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	// Capture from the start: what a new process prints while starting
	// (a traceback at import, uv installing dependencies) belongs to the
	// call that started it.
	p.stderr.beginCapture(cfg.maxStderr)
	p.wg.Add(3)
	go func() {
		defer p.wg.Done()
		p.readStdout(cfg.maxLine)
	}()
	go func() {
		defer p.wg.Done()
		p.stderr.run()
	}()
	go func() {
		defer p.wg.Done()
		_ = cmd.Wait()
		close(p.exited)
	}()
	cfg.log.Debug("function process started", "function", fn.Name, "pid", p.pid)
	return p, nil
}

func (p *process) logStderr(line []byte) {
	if !p.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	p.log.Debug("function stderr", "function", p.fnName, "pid", p.pid, "line", string(line))
}

func (p *process) readStdout(maxLine int) {
	defer close(p.stdoutDone)
	defer close(p.lines)
	br := bufio.NewReaderSize(p.stdout, 64<<10)
	for {
		data, oversize, err := readLine(br, maxLine)
		if err != nil {
			return
		}
		select {
		case p.lines <- stdoutLine{data: data, oversize: oversize}:
		case <-p.quit:
			return
		}
	}
}

// readLine reads one '\n'-terminated line. A line longer than max bytes is
// consumed but not kept, so one huge answer cannot exhaust memory and the
// stream stays in step for the next request.
func readLine(br *bufio.Reader, max int) ([]byte, bool, error) {
	var buf []byte
	oversize := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !oversize {
			if len(buf)+len(chunk) > max+1 {
				oversize = true
				buf = nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if oversize {
			return nil, true, nil
		}
		buf = bytes.TrimSuffix(buf, []byte{'\n'})
		return bytes.TrimSuffix(buf, []byte{'\r'}), false, nil
	}
}

// sendOp is a request write in progress.
type sendOp struct {
	done chan struct{} // closed when the write returned
	err  error         // valid once done is closed
}

// send writes one request line without blocking the caller: a function that
// stops reading stdin must not hang the call past its timeout. The write
// ends at the latest when stop closes stdin.
func (p *process) send(line []byte) *sendOp {
	op := &sendOp{done: make(chan struct{})}
	// Most requests fit in the pipe's buffer: write them here, which saves
	// a goroutine hand-off on every call, and finish in the background
	// only what the process has not taken within a moment.
	rest := line
	if p.stdin.SetWriteDeadline(time.Now().Add(inlineWriteWait)) == nil {
		n, err := p.stdin.Write(line)
		_ = p.stdin.SetWriteDeadline(time.Time{})
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			op.err = err
			close(op.done)
			return op
		}
		rest = line[n:]
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, op.err = p.stdin.Write(rest)
		close(op.done)
	}()
	return op
}

// inlineWriteWait is how long send writes a request itself before handing
// the rest to a goroutine.
const inlineWriteWait = 5 * time.Millisecond

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop ends the process and every process of its group and waits for them.
// Graceful stops close stdin first (the serve loop then exits on its own);
// others start with SIGTERM. Either way SIGKILL follows after grace, and
// once the leader is gone the group gets SIGKILL so that nothing the
// function spawned survives it. Safe to call more than once.
func (p *process) stop(graceful bool, grace time.Duration) {
	p.stopOnce.Do(func() {
		close(p.quit)
		if graceful {
			_ = p.stdin.Close()
		} else {
			signalGroup(p.pid, syscall.SIGTERM)
		}
		timer := time.NewTimer(grace)
		select {
		case <-p.exited:
		case <-timer.C:
		}
		timer.Stop()
		signalGroup(p.pid, syscall.SIGKILL)
		<-p.exited
		_ = p.stdin.Close()

		// The readers see EOF once every holder of the pipes is gone. A
		// process that left the group (setsid) may still hold them, so the
		// wait is bounded and the read ends are then closed under it.
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		for _, done := range []chan struct{}{p.stdoutDone, p.stderr.done} {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
		cancel()
		_ = p.stdout.Close()
		p.stderr.close()
		p.wg.Wait()
		p.log.Debug("function process stopped", "function", p.fnName, "pid", p.pid,
			"exit", p.cmd.ProcessState.String())
	})
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
