// Package emailtest runs a small real SMTP server on the loopback
// interface for tests: it speaks enough of RFC 5321 for net/smtp and
// TinyBase's sender (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP, QUIT), keeps every message it accepts, and can refuse
// transactions on demand to exercise retries.
package emailtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// Message is one accepted email.
type Message struct {
	From string
	To   []string
	// Data is the message as received, headers and body, dot-unstuffed.
	Data string
	// TLS reports whether the session was encrypted when DATA ran.
	TLS bool
	// User is the name given with AUTH PLAIN, if any.
	User string
}

// Parsed returns the message parsed as RFC 5322.
func (m Message) Parsed() (*mail.Message, error) {
	return mail.ReadMessage(strings.NewReader(m.Data))
}

// Options configures a Server.
type Options struct {
	// TLS, when set, enables STARTTLS (or implicit TLS with Implicit).
	TLS *tls.Config
	// Implicit makes the listener speak TLS from the first byte.
	Implicit bool
	// User and Password, when set, are required with AUTH PLAIN before MAIL.
	User, Password string
}

// Server is a running SMTP server.
type Server struct {
	opts Options
	ln   net.Listener

	mu       sync.Mutex
	messages []Message
	failNext int
	arrived  chan struct{}

	wg     sync.WaitGroup
	closed chan struct{}
}

// Start listens on 127.0.0.1 on a free port and serves until Close.
func Start(o Options) (*Server, error) {
	var ln net.Listener
	var err error
	if o.Implicit {
		if o.TLS == nil {
			return nil, fmt.Errorf("implicit TLS needs a TLS config")
		}
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.TLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, ln: ln, arrived: make(chan struct{}, 1000), closed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the listening address.
func (s *Server) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Port returns the listening port.
func (s *Server) Port() int { return s.Addr().Port }

// FailNext makes the next n transactions answer 451 (try again later)
// to DATA.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the first accepted message for which match is true, waiting
// up to d for it.
func (s *Server) Wait(d time.Duration, match func(Message) bool) (Message, bool) {
	deadline := time.After(d)
	for {
		for _, m := range s.Messages() {
			if match == nil || match(m) {
				return m, true
			}
		}
		select {
		case <-s.arrived:
		case <-deadline:
			return Message{}, false
		}
	}
}

// Close stops the server and waits for its sessions to end.
func (s *Server) Close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

type session struct {
	c      net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	tls    bool
	user   string
	authed bool
	from   string
	to     []string
}

func (ss *session) reply(code int, text string) {
	fmt.Fprintf(ss.w, "%d %s\r\n", code, text)
	ss.w.Flush()
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	go func() {
		<-s.closed
		c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	ss := &session{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c), tls: s.opts.Implicit}
	ss.reply(220, "tinybase-test ESMTP")
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			fmt.Fprintf(ss.w, "250-tinybase-test\r\n")
			if s.opts.TLS != nil && !ss.tls {
				fmt.Fprintf(ss.w, "250-STARTTLS\r\n")
			}
			if s.opts.User != "" {
				fmt.Fprintf(ss.w, "250-AUTH PLAIN\r\n")
			}
			ss.reply(250, "8BITMIME")
		case "HELO":
			ss.reply(250, "tinybase-test")
		case "STARTTLS":
			if s.opts.TLS == nil || ss.tls {
				ss.reply(502, "not offered")
				continue
			}
			ss.reply(220, "ready to start TLS")
			tc := tls.Server(c, s.opts.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			ss.c, ss.tls = tc, true
			ss.r, ss.w = bufio.NewReader(tc), bufio.NewWriter(tc)
			ss.from, ss.to = "", nil
		case "AUTH":
			s.auth(ss, arg)
		case "MAIL":
			if s.opts.User != "" && !ss.authed {
				ss.reply(530, "authentication required")
				continue
			}
			ss.from = angle(arg)
			ss.to = nil
			ss.reply(250, "ok")
		case "RCPT":
			if ss.from == "" {
				ss.reply(503, "need MAIL first")
				continue
			}
			ss.to = append(ss.to, angle(arg))
			ss.reply(250, "ok")
		case "DATA":
			if len(ss.to) == 0 {
				ss.reply(503, "need RCPT first")
				continue
			}
			ss.reply(354, "end with .")
			data, err := readData(ss.r)
			if err != nil {
				return
			}
			s.mu.Lock()
			fail := s.failNext > 0
			if fail {
				s.failNext--
			} else {
				s.messages = append(s.messages,
					Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls, User: ss.user})
			}
			s.mu.Unlock()
			if fail {
				ss.reply(451, "try again later")
			} else {
				ss.reply(250, "queued")
				select {
				case s.arrived <- struct{}{}:
				default:
				}
			}
			ss.from, ss.to = "", nil
		case "RSET":
			ss.from, ss.to = "", nil
			ss.reply(250, "ok")
		case "NOOP":
			ss.reply(250, "ok")
		case "QUIT":
			ss.reply(221, "bye")
			return
		default:
			ss.reply(500, "unknown command")
		}
	}
}

func (s *Server) auth(ss *session, arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") || s.opts.User == "" {
		ss.reply(504, "mechanism not supported")
		return
	}
	if initial == "" {
		ss.reply(334, "")
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		initial = strings.TrimSpace(line)
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 3 || parts[1] != s.opts.User || parts[2] != s.opts.Password {
		ss.reply(535, "authentication failed")
		return
	}
	ss.user, ss.authed = parts[1], true
	ss.reply(235, "authenticated")
}

// angle returns the address between < and > in a MAIL or RCPT argument.
func angle(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}

// readData reads lines up to the lone "." and undoes dot-stuffing.
func readData(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "." {
			return b.String(), nil
		}
		if strings.HasPrefix(trimmed, "..") {
			trimmed = trimmed[1:]
		}
		b.WriteString(trimmed)
		b.WriteString("\r\n")
	}
}

// TLSPair returns a server TLS config with a fresh self-signed certificate
// for 127.0.0.1 and localhost, and a client config that trusts only it.
func TLSPair() (server, client *tls.Config, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tinybase-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client, nil
}
