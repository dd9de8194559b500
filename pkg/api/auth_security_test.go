package api_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/email/emailtest"
)

// secRow is one attack: a request and the refusal it must get.
type secRow struct {
	name         string
	method, path string
	token        string
	body         any
	headers      []string
	want         int
}

// forgeJWT signs claims with any method and key.
func forgeJWT(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsFor(sub string, admin bool, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "jti": uuid.NewString(), "iat": time.Now().Add(-2 * time.Hour).Unix(),
		"exp": exp.Unix(), "type": "access", "scope": "user", "is_admin": admin}
}

// flipAdmin sets is_admin in a token's payload and keeps its signature.
func flipAdmin(tok string) string {
	parts := strings.Split(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body),
		`"is_admin":false`, `"is_admin":true`, 1)))
	return strings.Join(parts, ".")
}

// TestSecurityTable runs every attack of the security table against a
// real api and checks each is refused with the documented status: 401
// when the credential is not accepted, 403 when it is but the rights are
// not there. None may answer 200 or 500. Function call tokens used after
// a logout are covered end to end, with a running function, in
// test/e2e/auth_test.go.
func TestSecurityTable(t *testing.T) {
	smtp, err := emailtest.Start(emailtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer smtp.Close()
	env := testenv.New(t)
	env.Config.RateLimit.Enabled = false
	env.Config.Email.Enabled, env.Config.Email.TLS = true, "none"
	env.Config.Email.SMTPHost, env.Config.Email.SMTPPort = "127.0.0.1", smtp.Port()
	env.Config.Email.FromAddress = "noreply@example.com"
	a := startAccounts(t, env)
	secret := env.Config.Secrets.JWTSecret
	root := a.admin()
	ann := a.newUser(root, "ann@example.com")
	lou := a.newUser(root, "lou@example.com")
	rita := a.newUser(root, "rita@example.com")
	rex := a.newUser(root, "rex@example.com")
	del := a.newUser(root, "del@example.com")

	iss := auth.NewIssuer(secret, auth.IssuerOptions{})
	annCall, err := iss.IssueCallToken(ann.userID, false, "call-2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claimsAdmin, err := iss.IssuePair(ann.userID, true, uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	app := a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "ro",
		"scopes": []string{"read"}}).must(t, 201, "read token")
	readToken := app.str("token_value")
	gone := a.call("POST", "/api/admin/application-tokens", root.access, map[string]any{"name": "gone"}).
		must(t, 201, "token to delete")
	goneID, _ := gone.body["token"].(map[string]any)["id"].(string)

	// State changes the rows depend on.
	a.call("POST", "/api/auth/logout", lou.access, nil).must(t, 200, "lou logs out")
	a.call("POST", "/api/auth/password-reset/request", "", map[string]string{"email": "rita@example.com"}).
		must(t, 200, "rita asks for a reset")
	m, ok := smtp.Wait(10*time.Second, nil)
	if !ok {
		t.Fatal("no reset email")
	}
	tok := strings.TrimPrefix(linkTokenRE.FindString(decodeBody(t, m)), "/auth/password-reset/")
	a.call("POST", "/api/auth/password-reset/confirm", "", map[string]string{"token": tok, "password": "password2"}).
		must(t, 200, "rita resets")
	r := a.call("POST", "/api/auth/refresh", rex.refresh, nil).must(t, 200, "rex refreshes")
	rexNew := authSession{access: r.str("access_token"), refresh: r.str("refresh_token")}
	a.call("DELETE", "/api/admin/users/"+del.userID, root.access, nil).must(t, 204, "delete del")
	a.call("DELETE", "/api/admin/application-tokens/"+goneID, root.access, nil).must(t, 204, "delete app token")

	admin := "/api/admin/users"
	me := "/api/auth/me"
	rows := []secRow{
		{"no token", "GET", admin, "", nil, nil, 401},
		{"garbage token", "GET", me, "not.a.jwt", nil, nil, 401},
		{"not a bearer scheme", "GET", me, "", nil, []string{"Authorization: Token " + ann.access}, 401},
		{"unsigned alg none", "GET", admin, forgeJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			claimsFor(root.userID, true, time.Now().Add(time.Hour))), nil, nil, 401},
		{"wrong algorithm HS512 with the real secret", "GET", admin, forgeJWT(t, jwt.SigningMethodHS512, secret,
			claimsFor(root.userID, true, time.Now().Add(time.Hour))), nil, nil, 401},
		{"HS256 with another secret", "GET", me, forgeJWT(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)),
			claimsFor(root.userID, true, time.Now().Add(time.Hour))), nil, nil, 401},
		{"payload tampered to admin", "GET", admin, flipAdmin(ann.access), nil, nil, 401},
		{"expired token", "GET", me, forgeJWT(t, jwt.SigningMethodHS256, secret,
			claimsFor(ann.userID, false, time.Now().Add(-time.Minute))), nil, nil, 401},
		{"refresh token as access token", "GET", me, ann.refresh, nil, nil, 401},
		{"access token as refresh token", "POST", "/api/auth/refresh", ann.access, nil, nil, 401},
		{"access token in refresh body", "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": ann.access}, nil, 401},
		{"call token as refresh token", "POST", "/api/auth/refresh", annCall, nil, nil, 401},
		{"is_admin claim is not trusted", "GET", admin, claimsAdmin.Access, nil, nil, 403},
		{"access token after logout", "GET", me, lou.access, nil, nil, 401},
		{"refresh token after logout", "POST", "/api/auth/refresh", lou.refresh, nil, nil, 401},
		{"access token after password reset", "GET", me, rita.access, nil, nil, 401},
		{"refresh token after password reset", "POST", "/api/auth/refresh", rita.refresh, nil, nil, 401},
		{"replayed refresh token", "POST", "/api/auth/refresh", rex.refresh, nil, nil, 401},
		{"newest refresh token of a replayed session", "POST", "/api/auth/refresh", rexNew.refresh, nil, nil, 401},
		{"newest access token of a replayed session", "GET", me, rexNew.access, nil, nil, 401},
		{"token of a deleted user", "GET", me, del.access, nil, nil, 401},
		{"deleted application token", "GET", me, gone.str("token_value"), nil, nil, 401},
		{"read-only application token writes", "POST", "/api/collections", readToken, map[string]any{"name": "x"}, nil, 403},
		{"register as admin", "POST", "/api/auth/register", "", map[string]any{"email": "mal@example.com",
			"password": "password1", "is_admin": true}, nil, 403},
		{"own role through PATCH me", "PATCH", me, ann.access, map[string]any{"is_admin": true}, nil, 403},
		{"own role through the admin API", "PATCH", admin + "/" + ann.userID, ann.access, map[string]any{"is_admin": true}, nil, 403},
		{"user creates an admin", "POST", admin, ann.access, map[string]any{"email": "mal2@example.com",
			"password": "password1", "is_admin": true}, nil, 403},
		{"CORS wildcard origin, anonymous", "GET", me, "", nil, []string{"Origin: https://evil.example"}, 401},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := a.call(row.method, row.path, row.token, row.body, row.headers...)
			if r.code != row.want {
				t.Fatalf("%s %s: %d, want %d: %s", row.method, row.path, r.code, row.want, r.raw)
			}
			if r.header.Get("Access-Control-Allow-Credentials") != "" && r.header.Get("Access-Control-Allow-Origin") == "*" {
				t.Fatal("wildcard origin with credentials")
			}
		})
	}
	// The escalation attempts changed nothing.
	if r := a.call("GET", admin+"/"+ann.userID, root.access, nil); r.body["is_admin"] != false {
		t.Errorf("ann after escalation attempts: %v", r.body)
	}
	a.call("POST", "/api/auth/login", "", map[string]string{"email": "mal@example.com", "password": "password1"}).
		must(t, 401, "refused registration created no account")

	// CORS: the default wildcard never comes with credentials, preflight
	// included.
	pre := a.call("OPTIONS", me, "", nil, "Origin: https://evil.example", "Access-Control-Request-Method: GET")
	if pre.header.Get("Access-Control-Allow-Origin") != "*" || pre.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight headers: %v", pre.header)
	}
}
