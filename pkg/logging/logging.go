// Package logging builds the structured logger every role uses.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in the given format ("text" or "json")
// at the given level, with the role attribute on every line.
func New(w io.Writer, format, level, role string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	l := slog.New(h)
	if role != "" {
		l = l.With("role", role)
	}
	return l
}

// ParseLevel maps a configured level name to a slog level; unknown names
// mean info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
