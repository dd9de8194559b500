package runner

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
	"unicode/utf8"
)

// maxLogLine bounds one logged stderr line; longer lines are split.
const maxLogLine = 8 << 10

// stderrPipe reads a function process's stderr, logs it line by line and,
// while a call runs, keeps a bounded tail of it for that call's Result.
//
// Reads happen in non-blocking mode under mu, together with processing.
// That lets a call drain whatever is still in the pipe once the response
// arrived: the SDK flushes stderr before it writes the response, so after
// drain the capture holds everything the call printed.
type stderrPipe struct {
	f      *os.File
	rc     syscall.RawConn
	onLine func(line []byte)
	done   chan struct{}

	mu      sync.Mutex
	buf     []byte
	line    []byte
	capture *tailBuffer
}

func newStderrPipe(f *os.File, onLine func(line []byte)) (*stderrPipe, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &stderrPipe{
		f:      f,
		rc:     rc,
		onLine: onLine,
		done:   make(chan struct{}),
		buf:    make([]byte, 32<<10),
	}, nil
}

// run reads until EOF or until the pipe is closed.
func (s *stderrPipe) run() {
	defer close(s.done)
	_ = s.rc.Read(func(fd uintptr) bool {
		for {
			s.mu.Lock()
			n, err := syscall.Read(int(fd), s.buf)
			if n > 0 {
				s.consumeLocked(s.buf[:n])
			}
			s.mu.Unlock()
			switch {
			case errors.Is(err, syscall.EINTR):
			case errors.Is(err, syscall.EAGAIN):
				return false // wait until readable
			case err != nil || n <= 0:
				return true // EOF or a real error
			}
		}
	})
	s.mu.Lock()
	if len(s.line) > 0 {
		s.onLine(s.line)
		s.line = s.line[:0]
	}
	s.mu.Unlock()
}

// drain consumes every byte currently buffered in the pipe.
func (s *stderrPipe) drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.Control(func(fd uintptr) {
		for {
			n, err := syscall.Read(int(fd), s.buf)
			if n > 0 {
				s.consumeLocked(s.buf[:n])
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || n <= 0 {
				return
			}
		}
	})
}

func (s *stderrPipe) consumeLocked(b []byte) {
	if s.capture != nil {
		s.capture.Write(b)
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.line = append(s.line, b...)
			if len(s.line) >= maxLogLine {
				s.onLine(s.line)
				s.line = s.line[:0]
			}
			return
		}
		s.line = append(s.line, b[:i]...)
		s.onLine(bytes.TrimSuffix(s.line, []byte{'\r'}))
		s.line = s.line[:0]
		b = b[i+1:]
	}
}

// beginCapture starts collecting stderr for a call, keeping at most max
// bytes (the tail).
func (s *stderrPipe) beginCapture(max int) {
	s.mu.Lock()
	s.capture = &tailBuffer{max: max}
	s.mu.Unlock()
}

// endCapture drains the pipe and returns what was captured since
// beginCapture.
func (s *stderrPipe) endCapture() string {
	s.drain()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.capture
	s.capture = nil
	if c == nil {
		return ""
	}
	return c.String()
}

func (s *stderrPipe) close() { _ = s.f.Close() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	n := len(b)
	if t.max <= 0 {
		t.truncated = t.truncated || n > 0
		return n, nil
	}
	if len(b) >= t.max {
		t.buf = append(t.buf[:0], b[len(b)-t.max:]...)
		t.truncated = true
		return n, nil
	}
	t.buf = append(t.buf, b...)
	if len(t.buf) > 2*t.max {
		keep := copy(t.buf, t.buf[len(t.buf)-t.max:])
		t.buf = t.buf[:keep]
		t.truncated = true
	}
	return n, nil
}

// String returns the kept tail; when the start was cut off, a partial UTF-8
// sequence at the front is dropped.
func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		t.truncated = true
	}
	if t.truncated {
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	return string(b)
}
