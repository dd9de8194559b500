// Package email sends TinyBase's emails over SMTP: a Sender for one
// message, templates that projects can override, and an Outbox that sends
// off the request path with retries.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// TLS modes of an SMTP connection.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and refuses to
	// go on when the server does not offer it (the usual port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (the usual port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in clear text; only for a relay on the same host or
	// network, such as a local test server.
	TLSNone = "none"
)

// Options configures a Sender.
type Options struct {
	Host     string
	Port     int
	User     string
	Password string
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// From is the sender address and FromName its display name.
	From     string
	FromName string
	// Timeout bounds one delivery, connection to QUIT (default 30s).
	Timeout time.Duration
	// TLSConfig overrides the TLS client settings (tests pass their CA).
	TLSConfig *tls.Config
}

// Message is one email. Text is required; HTML, when set, is sent as the
// alternative part.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages to one SMTP server.
type Sender struct {
	opts Options
}

// NewSender checks o and returns a Sender.
func NewSender(o Options) (*Sender, error) {
	if o.Host == "" {
		return nil, errors.New("email: smtp_host is required")
	}
	if o.Port <= 0 || o.Port > 65535 {
		return nil, fmt.Errorf("email: smtp_port %d out of range", o.Port)
	}
	if _, err := mail.ParseAddress(o.From); err != nil || o.From == "" {
		return nil, fmt.Errorf("email: from_address %q is not an address", o.From)
	}
	switch o.TLS {
	case "":
		o.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("email: tls must be starttls, implicit or none, got %q", o.TLS)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Sender{opts: o}, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.opts.TLSConfig != nil {
		c := s.opts.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.opts.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.opts.Host, MinVersion: tls.VersionTLS12}
}

// Send delivers m in one SMTP session.
func (s *Sender) Send(ctx context.Context, m Message) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("recipient %q: %w", m.To, err)
	}
	data, err := s.compose(m, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
	d := &net.Dialer{}
	var conn net.Conn
	if s.opts.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.opts.Host)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if s.opts.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp server does not offer STARTTLS; set [email] tls = \"implicit\" or \"none\"")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if s.opts.User != "" {
		// PlainAuth refuses to send the password over a connection that is
		// neither TLS nor to localhost.
		if err := c.Auth(smtp.PlainAuth("", s.opts.User, s.opts.Password, s.opts.Host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.opts.From); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}

func helloName() string {
	return "localhost"
}

// compose renders m as a MIME message: headers (the subject Q-encoded and
// stripped of line breaks so it cannot add headers), then the text part,
// or a multipart/alternative of text and HTML, quoted-printable.
func (s *Sender) compose(m Message, to *mail.Address) ([]byte, error) {
	var buf bytes.Buffer
	from := mail.Address{Name: s.opts.FromName, Address: s.opts.From}
	subject := strings.Join(strings.Fields(m.Subject), " ")
	h := []struct{ k, v string }{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"Message-ID", messageID(s.opts.From)},
		{"MIME-Version", "1.0"},
	}
	for _, kv := range h {
		fmt.Fprintf(&buf, "%s: %s\r\n", kv.k, kv.v)
	}
	if m.HTML == "" {
		buf.WriteString("Content-Type: text/plain; charset=utf-8\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		if err := writeQP(&buf, m.Text); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mw := multipart.NewWriter(&buf)
	fmt.Fprintf(&buf, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", mw.Boundary())
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(pw, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type writer interface{ Write([]byte) (int, error) }

func writeQP(w writer, body string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\r\n", "\n"))); err != nil {
		return err
	}
	return qp.Close()
}

func messageID(from string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	domain := "tinybase.local"
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(b) + "@" + domain + ">"
}
