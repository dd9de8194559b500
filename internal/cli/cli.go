// Package cli holds the command-line commands shared by the tinybase
// binary and the single-role binaries in cmd/. Commands parse flags, load
// the configuration and call a role's Run; they hold no logic of their own.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tinybase/tinybase/internal/harden"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/logging"
)

// Globals are flags every command accepts.
type Globals struct {
	Dir string `help:"Project folder." default:"." env:"TINYBASE_DIR" type:"path"`
}

// BusFlags let a role join a bus on another host.
type BusFlags struct {
	BusURL      string `name:"bus-url" help:"NATS URL of the bus (overrides [bus] url)." env:"TINYBASE_BUS_URL"`
	BusUser     string `name:"bus-user" help:"Bus user (overrides the generated credentials)." env:"TINYBASE_BUS_USER"`
	BusPassword string `name:"bus-password" help:"Bus password." env:"TINYBASE_BUS_PASSWORD"`
}

func (b BusFlags) apply(cfg *config.Config) {
	if b.BusURL != "" {
		cfg.Bus.URL = b.BusURL
	}
	if b.BusUser != "" {
		cfg.Bus.User = b.BusUser
	}
	if b.BusPassword != "" {
		cfg.Bus.Password = b.BusPassword
	}
}

// load reads the project configuration and reports unknown keys.
func load(g *Globals, log *slog.Logger) (*config.Config, error) {
	// Roles hold secrets in memory and in their environment: keep other
	// processes of the same user (such as function code) out of both.
	if err := harden.NoDump(); err != nil && log != nil {
		log.Warn("could not mark process non-dumpable", "error", err)
	}
	harden.PrivateFiles()
	cfg, err := config.Load(g.Dir, os.Environ())
	if err != nil {
		return nil, err
	}
	if log != nil {
		for _, w := range cfg.Warnings {
			log.Warn("config: " + w)
		}
	}
	return cfg, nil
}

// roleLogger builds the logger of a role from the configuration.
func roleLogger(cfg *config.Config, role string) *slog.Logger {
	level := cfg.Server.LogLevel
	if cfg.Server.Debug {
		level = "debug"
	}
	l := logging.New(os.Stderr, cfg.Server.LogFormat, level, role)
	slog.SetDefault(l)
	return l
}

// bootLogger logs before the configuration is known.
func bootLogger(role string) *slog.Logger {
	return logging.New(os.Stderr, "text", "info", role)
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// Fail prints err the way every command reports a fatal error and exits 1.
func Fail(err error) {
	fmt.Fprintf(os.Stderr, "tinybase: %v\n", err)
	os.Exit(1)
}
