// Package bus runs the embedded NATS server and connects roles to the bus.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

// ServerOptions configures the embedded NATS server.
type ServerOptions struct {
	Host     string
	Port     int
	StoreDir string
	User     string
	Password string
	Logger   *slog.Logger
}

// Server is a running embedded NATS server with JetStream.
type Server struct {
	ns  *server.Server
	log *slog.Logger
}

// ErrPortInUse means the bus port is taken by another process.
var ErrPortInUse = errors.New("port in use")

// StartServer starts the embedded server and waits until it accepts
// clients. Clients must authenticate with the given user and password.
func StartServer(opts ServerOptions) (*Server, error) {
	if opts.User == "" || opts.Password == "" {
		return nil, errors.New("bus credentials are missing")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	if l, err := net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("bus port %d on %s: %w", opts.Port, opts.Host, ErrPortInUse)
	} else {
		l.Close()
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	// The server keeps only a bcrypt hash of the password, so a memory or
	// config dump of the bus does not reveal it.
	hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), 10)
	if err != nil {
		return nil, fmt.Errorf("hash bus password: %w", err)
	}
	nopts := &server.Options{
		ServerName:             "tinybase",
		Host:                   opts.Host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               opts.StoreDir,
		NoSigs:                 true,
		Users:                  []*server.User{{Username: opts.User, Password: string(hash)}},
		MaxPayload:             16 << 20,
		JetStreamMaxMemory:     256 << 20,
		DisableJetStreamBanner: true,
	}
	ns, err := server.NewServer(nopts)
	if err != nil {
		return nil, fmt.Errorf("configure bus: %w", err)
	}
	ns.SetLoggerV2(&natsLogger{log: log}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(60 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("bus did not become ready on %s", addr)
	}
	log.Info("bus started", "addr", addr, "store", opts.StoreDir)
	return &Server{ns: ns, log: log}, nil
}

// ClientURL returns the URL clients should dial.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits for it. Safe to call twice.
func (s *Server) Shutdown() {
	if s == nil || s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.log.Info("bus stopped")
}

// Run starts the server and serves until ctx is done.
func Run(ctx context.Context, opts ServerOptions) error {
	s, err := StartServer(opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	s.Shutdown()
	return nil
}

// natsLogger sends the server's log lines to slog. Notices are logged at
// debug level: the server is chatty at start-up and operators care about
// warnings and errors.
type natsLogger struct{ log *slog.Logger }

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	// Function payloads may be up to 10 MiB by design; the size advice is
	// noise here.
	if strings.HasPrefix(msg, "Maximum payloads over") {
		l.log.Debug(msg)
		return
	}
	l.log.Warn(msg)
}
func (l *natsLogger) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any) {}
