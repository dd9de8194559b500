package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/email/emailtest"
)

// watchPy asks /api/auth/me with its call token until it is refused (or
// its time is up) and reports the statuses it saw, so the test can check
// that a logout refuses the call tokens of functions still running.
const watchPy = `import time
from tinybase_sdk import register, TinyBaseError
from tinybase_sdk.cli import run

@register(name="watchme", description="polls /auth/me until refused", auth="auth")
def watchme(client, payload: dict) -> dict:
    seen, email = [], None
    deadline = time.time() + float(payload.get("seconds", 20))
    while time.time() < deadline:
        try:
            email = client.get("/auth/me")["email"]
            if not seen:
                seen.append(200)
        except TinyBaseError as e:
            seen.append(e.status)
            break
        time.sleep(0.05)
    return {"statuses": seen, "email": email}

if __name__ == "__main__":
    run()
`

// authInstance is a served project with email going to a test SMTP server.
type authInstance struct {
	*instance
	smtp   *emailtest.Server
	secret []byte
}

// serveWithMail initialises a project that sends email to a real SMTP
// server on loopback and serves it.
func serveWithMail(t *testing.T, workers int) *authInstance {
	t.Helper()
	smtp, err := emailtest.Start(emailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(smtp.Close)
	dir := initProject(t)
	path := filepath.Join(dir, "tinybase.toml")
	toml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// No public_url: links then use the instance's own loopback address,
	// and function processes call back to it there too.
	s := string(toml) + "\n[email]\nenabled = true\nsmtp_host = \"127.0.0.1\"\nsmtp_port = " + itoa(smtp.Port()) +
		"\ntls = \"none\"\nfrom_address = \"noreply@tiny.example.com\"\n\n[rate_limit]\nenabled = false\n"
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "functions", "watchme.py"), []byte(watchPy), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ".tinybase", "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sec struct {
		JWTSecret []byte `json:"jwt_secret"`
	}
	if err := json.Unmarshal(raw, &sec); err != nil || len(sec.JWTSecret) < 32 {
		t.Fatalf("secrets: %v", err)
	}
	return &authInstance{instance: serve(t, dir, workers), smtp: smtp, secret: sec.JWTSecret}
}

func itoa(n int) string { return strconv.Itoa(n) }

type tokens struct{ access, refresh, userID string }

func (in *authInstance) session(email, password string) tokens {
	in.t.Helper()
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		UserID       string `json:"user_id"`
	}
	code, body := in.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}, &out)
	if code != 200 {
		in.t.Fatalf("login %s: %d %s", email, code, body)
	}
	return tokens{out.AccessToken, out.RefreshToken, out.UserID}
}

func (in *authInstance) user(admin tokens, email string) tokens {
	in.t.Helper()
	code, body := in.do("POST", "/api/admin/users", admin.access, map[string]string{"email": email, "password": "password1"}, nil)
	if code != 201 {
		in.t.Fatalf("create %s: %d %s", email, code, body)
	}
	return in.session(email, "password1")
}

// expect fails unless method path answers want.
func (in *authInstance) expect(want int, what, method, path, token string, body any) string {
	in.t.Helper()
	code, out := in.do(method, path, token, body, nil)
	if code != want {
		in.t.Fatalf("%s: %s %s = %d, want %d: %s", what, method, path, code, want, out)
	}
	return out
}

var resetLinkRE = regexp.MustCompile(`http://127\.0\.0\.1:([0-9]+)/auth/password-reset/([0-9a-f]{64})`)

// resetByEmail asks for a reset of email, reads the link from the message
// the SMTP server received, and completes the reset with it.
func (in *authInstance) resetByEmail(email, newPassword string) {
	in.t.Helper()
	// The Host header is the requester's to choose; the link must not use it.
	req, _ := http.NewRequest("POST", in.url("/api/auth/password-reset/request"),
		strings.NewReader(`{"email":"`+email+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		in.t.Fatalf("reset request: %d", resp.StatusCode)
	}
	m, ok := in.smtp.Wait(30*time.Second, func(m emailtest.Message) bool { return m.To[0] == email })
	if !ok {
		in.t.Fatalf("no reset email for %s", email)
	}
	parsed, err := m.Parsed()
	if err != nil {
		in.t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	match := resetLinkRE.FindSubmatch(body)
	if match == nil || string(match[1]) != strconv.Itoa(in.httpPort) || strings.Contains(string(body), "evil.example") {
		in.t.Fatalf("no reset link to this instance in the email:\n%s", body)
	}
	in.expect(200, "reset confirm", "POST", "/api/auth/password-reset/confirm", "",
		map[string]string{"token": string(match[2]), "password": newPassword})
}

// TestLogoutEndsEveryDevice: after logout on one device, the other
// device's access and refresh tokens, and call tokens of functions running
// for the user, are refused at once.
func TestLogoutEndsEveryDevice(t *testing.T) {
	in := serveWithMail(t, 1)
	root := in.session("admin@example.com", "admin12345")
	in.user(root, "ann@example.com")
	phone := in.session("ann@example.com", "password1")
	laptop := in.session("ann@example.com", "password1")

	type watchResult struct {
		Status string `json:"status"`
		Result struct {
			Statuses []int  `json:"statuses"`
			Email    string `json:"email"`
		} `json:"result"`
	}
	waitFor(t, 60*time.Second, "watchme callable", func() error {
		var r watchResult
		code, body := in.do("POST", "/api/functions/watchme", phone.access, map[string]any{"seconds": 0.2}, &r)
		if code != 200 || r.Status != "succeeded" || r.Result.Email != "ann@example.com" {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	// A call runs for the phone's session and keeps asking who it is.
	done := make(chan watchResult, 1)
	go func() {
		var r watchResult
		in.do("POST", "/api/functions/watchme", phone.access, map[string]any{"seconds": 30}, &r)
		done <- r
	}()
	waitFor(t, 30*time.Second, "watchme running", func() error {
		var calls struct {
			Total int `json:"total"`
		}
		in.do("GET", "/api/admin/functions/calls?status=running&function_name=watchme", root.access, nil, &calls)
		if calls.Total != 1 {
			return fmt.Errorf("running calls: %d", calls.Total)
		}
		return nil
	})
	time.Sleep(time.Second) // let the function see its token accepted

	start := time.Now()
	in.expect(200, "logout on the laptop", "POST", "/api/auth/logout", laptop.access, nil)
	in.expect(401, "phone access token", "GET", "/api/auth/me", phone.access, nil)
	in.expect(401, "phone refresh token", "POST", "/api/auth/refresh", phone.refresh, nil)
	select {
	case r := <-done:
		if r.Status != "succeeded" || len(r.Result.Statuses) != 2 || r.Result.Statuses[0] != 200 ||
			r.Result.Statuses[1] != 401 {
			t.Fatalf("running function saw %+v, want its token accepted, then refused", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the function's token was refused only after %v", d)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the running function's call token was not refused after logout")
	}
	in.expect(200, "admin unaffected", "GET", "/api/auth/me", root.access, nil)
	again := in.session("ann@example.com", "password1")
	in.expect(200, "login again", "GET", "/api/auth/me", again.access, nil)
}

// TestPasswordResetThroughSMTP completes a reset with the link from a
// real email and checks that every old session is refused.
func TestPasswordResetThroughSMTP(t *testing.T) {
	in := serveWithMail(t, 0)
	root := in.session("admin@example.com", "admin12345")
	old := in.user(root, "rita@example.com")
	other := in.session("rita@example.com", "password1")

	in.resetByEmail("rita@example.com", "password2")
	in.expect(401, "old access token", "GET", "/api/auth/me", old.access, nil)
	in.expect(401, "old refresh token", "POST", "/api/auth/refresh", other.refresh, nil)
	in.expect(401, "old password", "POST", "/api/auth/login", "", map[string]string{"email": "rita@example.com",
		"password": "password1"})
	fresh := in.session("rita@example.com", "password2")
	in.expect(200, "new session", "GET", "/api/auth/me", fresh.access, nil)
	if n := len(in.smtp.Messages()); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

func forgeToken(t *testing.T, m jwt.SigningMethod, key any, sub string, admin bool, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, jwt.MapClaims{"sub": sub, "jti": uuid.NewString(),
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": exp.Unix(), "type": "access", "scope": "user",
		"is_admin": admin}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSecurityTableE2E runs the security table against the real binary:
// every row must be refused with its documented 401 or 403.
func TestSecurityTableE2E(t *testing.T) {
	in := serveWithMail(t, 0)
	root := in.session("admin@example.com", "admin12345")
	ann := in.user(root, "ann@example.com")
	lou := in.user(root, "lou@example.com")
	rita := in.user(root, "rita@example.com")
	rex := in.user(root, "rex@example.com")

	in.expect(200, "lou logs out", "POST", "/api/auth/logout", lou.access, nil)
	in.resetByEmail("rita@example.com", "password2")
	var rot struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if code, body := in.do("POST", "/api/auth/refresh", rex.refresh, nil, &rot); code != 200 {
		t.Fatalf("rex refresh: %d %s", code, body)
	}
	// A token signed with the real secret that claims admin rights for a
	// plain user: the claim is not trusted.
	lying := forgeToken(t, jwt.SigningMethodHS256, in.secret, ann.userID, true, time.Now().Add(time.Hour))
	parts := strings.Split(ann.access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload),
		`"is_admin":false`, `"is_admin":true`, 1)))
	tampered := strings.Join(parts, ".")

	admin, me, refresh := "/api/admin/users", "/api/auth/me", "/api/auth/refresh"
	rows := []struct {
		name, method, path, token string
		body                      any
		origin                    string
		want                      int
	}{
		{"unsigned alg none", "GET", admin, forgeToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			root.userID, true, time.Now().Add(time.Hour)), nil, "", 401},
		{"wrong algorithm HS512", "GET", admin, forgeToken(t, jwt.SigningMethodHS512, in.secret, root.userID, true,
			time.Now().Add(time.Hour)), nil, "", 401},
		{"other secret", "GET", me, forgeToken(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)),
			ann.userID, false, time.Now().Add(time.Hour)), nil, "", 401},
		{"tampered payload", "GET", admin, tampered, nil, "", 401},
		{"expired", "GET", me, forgeToken(t, jwt.SigningMethodHS256, in.secret, ann.userID, false,
			time.Now().Add(-time.Minute)), nil, "", 401},
		{"refresh as access", "GET", me, ann.refresh, nil, "", 401},
		{"access as refresh", "POST", refresh, ann.access, nil, "", 401},
		{"is_admin claim not trusted", "GET", admin, lying, nil, "", 403},
		{"access after logout", "GET", me, lou.access, nil, "", 401},
		{"refresh after logout", "POST", refresh, lou.refresh, nil, "", 401},
		{"access after reset", "GET", me, rita.access, nil, "", 401},
		{"refresh after reset", "POST", refresh, rita.refresh, nil, "", 401},
		{"replayed refresh", "POST", refresh, rex.refresh, nil, "", 401},
		{"session of a replayed refresh", "GET", me, rot.AccessToken, nil, "", 401},
		{"register as admin", "POST", "/api/auth/register", "", map[string]any{"email": "mal@example.com",
			"password": "password1", "is_admin": true}, "", 403},
		{"PATCH me is_admin", "PATCH", me, ann.access, map[string]any{"is_admin": true}, "", 403},
		{"self-promotion via admin API", "PATCH", admin + "/" + ann.userID, ann.access,
			map[string]any{"is_admin": true}, "", 403},
		{"CORS wildcard with credentials", "GET", me, "", nil, "https://evil.example", 401},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var rd io.Reader
			if row.body != nil {
				data, _ := json.Marshal(row.body)
				rd = strings.NewReader(string(data))
			}
			req, _ := http.NewRequest(row.method, in.url(row.path), rd)
			req.Header.Set("Content-Type", "application/json")
			if row.token != "" {
				req.Header.Set("Authorization", "Bearer "+row.token)
			}
			if row.origin != "" {
				req.Header.Set("Origin", row.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != row.want {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, row.want, body)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("credentials allowed for origin %q (allow-origin %q)", row.origin,
					resp.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	var u struct {
		IsAdmin bool `json:"is_admin"`
	}
	if code, body := in.do("GET", admin+"/"+ann.userID, root.access, nil, &u); code != 200 || u.IsAdmin {
		t.Errorf("ann after escalation attempts: %d %s", code, body)
	}
}
