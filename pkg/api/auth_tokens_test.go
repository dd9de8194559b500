package api_test

import (
	"io"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/email/emailtest"
)

func TestApplicationTokens(t *testing.T) {
	env := testenv.New(t)
	a := startAccounts(t, env)
	root := a.admin()
	ann := a.newUser(root, "ann@example.com")

	a.call("POST", "/api/admin/application-tokens", ann.access, map[string]any{"name": "x"}).must(t, 403, "user creates token")
	c := a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "deploy",
		"description": "CI", "scopes": []string{"admin"}, "expires_days": 30}).must(t, 201, "create admin token")
	secret := c.str("token_value")
	tok, _ := c.body["token"].(map[string]any)
	id, _ := tok["id"].(string)
	if !strings.HasPrefix(secret, "tb_") || id == "" || tok["is_valid"] != true || tok["expires_at"] == nil {
		t.Fatalf("created %v", c.body)
	}
	ro := a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "reader",
		"scopes": []string{"read"}}).must(t, 201, "create read token")
	reader := ro.str("token_value")

	// The admin token acts for the admin who made it.
	me := a.call("GET", "/api/auth/me", secret, nil).must(t, 200, "me with app token")
	if me.str("id") != root.userID || me.body["is_admin"] != true {
		t.Fatalf("me with app token: %v", me.body)
	}
	a.call("GET", "/api/admin/users", secret, nil).must(t, 200, "admin route with admin token")
	a.call("GET", "/api/admin/users", reader, nil).must(t, 403, "admin route with read token")
	a.call("GET", "/api/collections", reader, nil).must(t, 200, "read with read token")
	a.call("POST", "/api/collections", reader, map[string]any{"name": "x"}).must(t, 403, "write with read token")

	// Tokens cannot mint tokens or end sessions.
	a.call("POST", "/api/admin/application-tokens", secret, map[string]any{"name": "y"}).
		must(t, 403, "token creates a token")
	a.call("POST", "/api/auth/logout", secret, nil).must(t, 403, "logout with app token")
	a.call("POST", "/api/auth/refresh", secret, nil).must(t, 401, "refresh with app token")

	list := a.call("GET", "/api/admin/application-tokens", root.access, nil).must(t, 200, "list tokens")
	if strings.Contains(list.raw, secret) || !strings.Contains(list.raw, `"last_used_at":"`) {
		t.Fatalf("list %s", list.raw)
	}

	// Revocation: deactivate, reactivate, delete.
	a.call("PATCH", "/api/admin/application-tokens/"+id, root.access, map[string]any{"is_active": false}).
		must(t, 200, "deactivate")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 401, "inactive token")
	a.call("PATCH", "/api/admin/application-tokens/"+id, root.access, map[string]any{"is_active": true}).
		must(t, 200, "reactivate")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 200, "reactivated token")

	// Logging the owner out does not stop tokens for servers; demoting the
	// owner takes the token's admin rights away.
	a.call("POST", "/api/auth/logout", root.access, nil).must(t, 200, "owner logs out")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 200, "token after owner logout")
	root = a.admin()
	a.call("PATCH", "/api/admin/users/"+ann.userID, root.access, map[string]any{"is_admin": true}).must(t, 200, "promote ann")
	a.call("PATCH", "/api/admin/users/"+root.userID, root.access, map[string]any{"is_admin": false}).must(t, 200, "demote root")
	a.call("GET", "/api/admin/users", secret, nil).must(t, 403, "admin token of a demoted owner")

	a.call("DELETE", "/api/admin/application-tokens/"+id, root.access, nil).must(t, 403, "delete by a demoted admin")
	a.call("DELETE", "/api/admin/application-tokens/"+id, ann.access, nil).must(t, 204, "delete by the new admin")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 401, "deleted token")
}

func TestApplicationTokenLifecycle(t *testing.T) {
	env := testenv.New(t)
	a := startAccounts(t, env)
	root := a.admin()
	c := a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "deploy"}).
		must(t, 201, "create")
	secret := c.str("token_value")
	id, _ := c.body["token"].(map[string]any)["id"].(string)
	a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": ""}).must(t, 422, "no name")
	a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "x", "scopes": []string{"root"}}).
		must(t, 422, "bad scope")
	a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "x", "expires_days": 0}).
		must(t, 422, "zero days")
	a.call("PATCH", "/api/admin/application-tokens/nope", root.access, map[string]any{"name": "x"}).must(t, 404, "patch unknown")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 200, "use")
	a.call("DELETE", "/api/admin/application-tokens/"+id, root.access, nil).must(t, 204, "delete")
	a.call("GET", "/api/auth/me", secret, nil).must(t, 401, "deleted token")
	a.call("DELETE", "/api/admin/application-tokens/"+id, root.access, nil).must(t, 404, "delete twice")
}

// TestPasswordResetByEmail sends the reset email through a real SMTP
// server on loopback and completes the reset with the emailed link.
func TestPasswordResetByEmail(t *testing.T) {
	smtp, err := emailtest.Start(emailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	env := testenv.New(t)
	env.Config.Server.PublicURL = "https://tiny.example.com/"
	env.Config.Email.Enabled = true
	env.Config.Email.SMTPHost = "127.0.0.1"
	env.Config.Email.SMTPPort = smtp.Port()
	env.Config.Email.TLS = "none"
	env.Config.Email.FromAddress = "noreply@tiny.example.com"
	a := startAccounts(t, env)
	root := a.admin()
	ann := a.newUser(root, "ann@example.com")
	other := a.login("ann@example.com", "password1")

	const msg = "If the email exists, a password reset link has been sent"
	r := a.call("POST", "/api/auth/password-reset/request", "", map[string]string{"email": "ANN@example.com"},
		"Host: evil.example", "X-Forwarded-Host: evil.example").must(t, 200, "request reset")
	if r.str("message") != msg {
		t.Errorf("answer %v", r.body)
	}
	if u := a.call("POST", "/api/auth/password-reset/request", "", map[string]string{"email": "nobody@example.com"}).
		must(t, 200, "request for unknown email"); u.str("message") != msg {
		t.Errorf("unknown email answer %v", u.body)
	}
	a.call("POST", "/api/auth/password-reset/request", "", map[string]string{"email": "nope"}).must(t, 422, "bad email")

	m, ok := smtp.Wait(10*time.Second, func(m emailtest.Message) bool { return m.To[0] == "ann@example.com" })
	if !ok {
		t.Fatal("no reset email arrived")
	}
	token := resetToken(t, m)
	if strings.Contains(m.Data, "evil.example") {
		t.Fatal("the reset link was built from the request's Host header")
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(smtp.Messages()); n != 1 {
		t.Errorf("%d emails sent, want 1 (none for the unknown address)", n)
	}

	a.call("POST", "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "password": "short"}).
		must(t, 422, "short new password")
	a.call("POST", "/api/auth/password-reset/confirm", "", map[string]string{"token": strings.Repeat("0", 64),
		"password": "password2"}).must(t, 400, "unknown token")
	a.call("POST", "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "password": "password2"}).
		must(t, 200, "confirm")
	a.call("POST", "/api/auth/password-reset/confirm", "", map[string]string{"token": token, "password": "password3"}).
		must(t, 400, "token used twice")
	a.call("GET", "/api/auth/me", ann.access, nil).must(t, 401, "old session after reset")
	a.call("POST", "/api/auth/refresh", other.refresh, nil).must(t, 401, "old refresh token after reset")
	a.call("POST", "/api/auth/login", "", map[string]string{"email": "ann@example.com", "password": "password1"}).
		must(t, 401, "old password")
	a.login("ann@example.com", "password2")
}

var linkRE = regexp.MustCompile(`https://tiny\.example\.com/auth/password-reset/([0-9a-f]{64})`)

// resetToken finds the reset link in the text part of m.
func resetToken(t *testing.T, m emailtest.Message) string {
	t.Helper()
	decoded := decodeBody(t, m)
	match := linkRE.FindStringSubmatch(decoded)
	if match == nil {
		t.Fatalf("no reset link in:\n%s", decoded)
	}
	return match[1]
}

var linkTokenRE = regexp.MustCompile(`/auth/password-reset/[0-9a-f]{64}`)

// decodeBody returns the text of m, quoted-printable decoded.
func decodeBody(t *testing.T, m emailtest.Message) string {
	t.Helper()
	parsed, err := m.Parsed()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(parsed.Body)
	decoded, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(body))))
	return string(decoded)
}
