package extension

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"

	"golang.org/x/time/rate"
)

// pluginEnv is the whole environment of a plugin process: what a program
// needs to run and nothing of the server's (no TINYBASE_* values, no
// secrets). go-plugin adds its handshake variables.
func pluginEnv(name string) []string {
	env := []string{"TINYBASE_EXTENSION_NAME=" + name, "PATH=/usr/local/bin:/usr/bin:/bin"}
	for _, k := range []string{"TMPDIR", "TZ", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// buildEnv is the environment of `go build` for a source install: the
// server's, less its own configuration and secrets.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TINYBASE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// lineLogger turns a plugin's stderr into structured log lines carrying
// the extension's name, at most 20 a second (bursts of 100), so that a
// plugin printing in a loop cannot flood the log.
type lineLogger struct {
	log     *slog.Logger
	limit   *rate.Limiter
	mu      sync.Mutex
	partial []byte
	dropped int
}

func newLineLogger(log *slog.Logger) *lineLogger {
	return &lineLogger{log: log, limit: rate.NewLimiter(20, 100)}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 {
		l.line(string(l.partial))
		l.partial = nil
	}
	return len(p), nil
}

func (l *lineLogger) line(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if !l.limit.Allow() {
		l.dropped++
		return
	}
	if l.dropped > 0 {
		l.log.Warn("extension stderr lines dropped", "count", l.dropped)
		l.dropped = 0
	}
	l.log.Info("extension stderr", "line", s)
}
