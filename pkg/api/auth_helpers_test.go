package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/api"
)

// acctAPI is an api role started for the account tests.
type acctAPI struct {
	t    *testing.T
	env  *testenv.Env
	base string
	role *testenv.Role
}

// startAccounts starts the api on env (after the caller adjusted
// env.Config) and waits until it answers.
func startAccounts(t *testing.T, env *testenv.Env) *acctAPI {
	t.Helper()
	ln := testenv.Listen(t)
	a := &acctAPI{t: t, env: env, base: "http://" + ln.Addr().String()}
	a.role = env.Start("api", func(ctx context.Context) error {
		return api.Run(ctx, env.Config, api.Options{Logger: testenv.Logger(t, "api"), Listener: ln})
	})
	testenv.WaitFor(t, 20*time.Second, "api up", func() error {
		resp, err := http.Get(a.base + "/api/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return a
}

// apiReply is an HTTP answer.
type apiReply struct {
	code   int
	body   map[string]any
	raw    string
	header http.Header
}

func (r apiReply) str(key string) string { s, _ := r.body[key].(string); return s }

// call sends method path with an optional bearer token and JSON body (a
// string is sent as is) and extra headers as "Name: value" pairs.
func (a *acctAPI) call(method, path, token string, body any, headers ...string) apiReply {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(k, "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiReply{code: resp.StatusCode, raw: string(raw), header: resp.Header}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// must fails the test unless the answer has status want.
func (r apiReply) must(t *testing.T, want int, what string) apiReply {
	t.Helper()
	if r.code != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.code, want, r.raw)
	}
	return r
}

type authSession struct{ access, refresh, userID string }

func (a *acctAPI) login(email, password string) authSession {
	a.t.Helper()
	r := a.call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}).
		must(a.t, 200, "login "+email)
	return authSession{access: r.str("access_token"), refresh: r.str("refresh_token"), userID: r.str("user_id")}
}

func (a *acctAPI) admin() authSession { return a.login("admin@example.com", "admin12345") }

// newUser creates a plain user through the admin API and logs it in.
func (a *acctAPI) newUser(admin authSession, email string) authSession {
	a.t.Helper()
	a.call("POST", "/api/admin/users", admin.access, map[string]any{"email": email, "password": "password1"}).
		must(a.t, 201, "create "+email)
	return a.login(email, "password1")
}
