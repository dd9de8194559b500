package email

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/email/emailtest"
)

func startServer(t *testing.T, o emailtest.Options) *emailtest.Server {
	t.Helper()
	s, err := emailtest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSendModes(t *testing.T) {
	srvTLS, cliTLS, err := emailtest.TLSPair()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		server  emailtest.Options
		mode    string
		user    string
		wantTLS bool
		wantErr string
	}{
		{"starttls with auth", emailtest.Options{TLS: srvTLS, User: "mailer", Password: "pw"}, TLSStartTLS, "mailer", true, ""},
		{"implicit tls", emailtest.Options{TLS: srvTLS, Implicit: true}, TLSImplicit, "", true, ""},
		{"clear text relay", emailtest.Options{}, TLSNone, "", false, ""},
		{"starttls required but not offered", emailtest.Options{}, TLSStartTLS, "", false, "does not offer STARTTLS"},
		{"wrong password", emailtest.Options{TLS: srvTLS, User: "mailer", Password: "other"}, TLSStartTLS, "mailer", false, "auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.server)
			s, err := NewSender(Options{Host: "127.0.0.1", Port: srv.Port(), TLS: tt.mode, User: tt.user, Password: "pw",
				From: "noreply@example.com", FromName: "Tiny Base", TLSConfig: cliTLS, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), Message{To: "ann@example.com", Subject: "Hi", Text: "hello"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if len(srv.Messages()) != 0 {
					t.Fatal("message delivered despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 || msgs[0].TLS != tt.wantTLS || msgs[0].From != "noreply@example.com" ||
				msgs[0].To[0] != "ann@example.com" || msgs[0].User != tt.user {
				t.Fatalf("received %+v", msgs)
			}
		})
	}
}

func TestComposeMultipartAndHeaders(t *testing.T) {
	srv := startServer(t, emailtest.Options{})
	s, err := NewSender(Options{Host: "127.0.0.1", Port: srv.Port(), TLS: TLSNone, From: "noreply@example.com",
		FromName: "Tiny Base"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), Message{To: "Ann <ann@example.com>",
		Subject: "Reset\r\nBcc: eve@example.com ünïcode", Text: "line one\n.dot line\n" + strings.Repeat("x", 100),
		HTML: "<p>hello</p>"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := srv.Messages()[0].Parsed()
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Bcc") != "" {
		t.Fatal("a line break in the subject added a header")
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "Reset Bcc: eve@example.com ünïcode" {
		t.Errorf("subject = %q", subject)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(quotedprintable.NewReader(p))
		parts = append(parts, p.Header.Get("Content-Type")+"|"+string(body))
	}
	if len(parts) != 2 || !strings.Contains(parts[0], "text/plain") || !strings.Contains(parts[0], "\r\n.dot line\r\n") ||
		!strings.Contains(parts[0], strings.Repeat("x", 100)) || !strings.Contains(parts[1], "<p>hello</p>") {
		t.Errorf("parts = %q", parts)
	}
}

func TestNewSenderChecks(t *testing.T) {
	for name, o := range map[string]Options{
		"no host":  {Port: 25, From: "a@example.com"},
		"bad port": {Host: "h", Port: 0, From: "a@example.com"},
		"bad from": {Host: "h", Port: 25, From: "nope"},
		"bad tls":  {Host: "h", Port: 25, From: "a@example.com", TLS: "maybe"},
	} {
		if _, err := NewSender(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type flaky struct {
	fails atomic.Int32
	sent  chan Message
}

func (f *flaky) Send(ctx context.Context, m Message) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("451 try later")
	}
	f.sent <- m
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestOutboxRetries(t *testing.T) {
	f := &flaky{sent: make(chan Message, 4)}
	f.fails.Store(2)
	o := NewOutbox(f, 10, []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}, quiet())
	if err := o.Enqueue(Message{To: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-f.sent:
		if m.To != "a@example.com" {
			t.Errorf("sent %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered after retries")
	}
	o.Stop(context.Background())
	o.Stop(context.Background())
	if err := o.Enqueue(Message{To: "b@example.com"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Stop: %v", err)
	}
}

func TestOutboxGivesUpAndStops(t *testing.T) {
	f := &flaky{sent: make(chan Message, 4)}
	f.fails.Store(1000)
	o := NewOutbox(f, 1, []time.Duration{time.Hour}, quiet())
	if err := o.Enqueue(Message{To: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	// The first message waits an hour to retry, so the queue of one fills.
	deadline := time.Now().Add(5 * time.Second)
	for o.Enqueue(Message{To: "b@example.com"}) == nil && time.Now().Before(deadline) {
	}
	if err := o.Enqueue(Message{To: "c@example.com"}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Enqueue on a full queue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	o.Stop(ctx)
	if time.Since(start) > 3*time.Second {
		t.Errorf("Stop took %v despite its grace period", time.Since(start))
	}
}

func TestOutboxThroughServerWithRetry(t *testing.T) {
	srv := startServer(t, emailtest.Options{})
	srv.FailNext(1)
	s, err := NewSender(Options{Host: "127.0.0.1", Port: srv.Port(), TLS: TLSNone, From: "noreply@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	o := NewOutbox(s, 10, []time.Duration{20 * time.Millisecond}, quiet())
	defer o.Stop(context.Background())
	if err := o.Enqueue(Message{To: "ann@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Wait(5*time.Second, nil); !ok {
		t.Fatal("no message after a refused first attempt")
	}
}

func TestTemplates(t *testing.T) {
	data := map[string]any{"InstanceName": "Acme", "Email": "ann@example.com",
		"Link": "https://app.example.com/auth/password-reset/abc?x=<b>", "ValidFor": "1 hour"}
	m, err := Templates{}.Render(PasswordReset, "ann@example.com", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Password reset for Acme" || !strings.Contains(m.Text, "https://app.example.com/auth/password-reset/abc?x=<b>") ||
		!strings.Contains(m.HTML, "x=%3cb%3e") || strings.Contains(m.HTML, "<b>") {
		t.Errorf("rendered %+v", m)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password_reset.subject.txt"), []byte("Reset at {{.InstanceName}}!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = Templates{Dir: dir}.Render(PasswordReset, "ann@example.com", data)
	if err != nil || m.Subject != "Reset at Acme!" || !strings.Contains(m.Text, "within 1 hour") {
		t.Errorf("override: %+v, %v", m, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password_reset.txt"), []byte("{{.Nope}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Templates{Dir: dir}).Render(PasswordReset, "a@example.com", data); err == nil {
		t.Error("a template naming a missing field rendered")
	}
}
