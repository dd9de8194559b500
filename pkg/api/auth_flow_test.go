package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/bus"
)

// TestSessionsAndLogout covers login, me, refresh rotation with replay
// detection, and logout from one device ending the other's session.
func TestSessionsAndLogout(t *testing.T) {
	env := testenv.New(t)
	a := startAccounts(t, env)
	root := a.admin()
	me := a.call("GET", "/api/auth/me", root.access, nil).must(t, 200, "me")
	if me.str("email") != "admin@example.com" || me.body["is_admin"] != true || me.str("created_at") == "" {
		t.Fatalf("me = %v", me.body)
	}

	ann := a.newUser(root, "ann@example.com")
	phone := ann
	laptop := a.login("ANN@Example.com", "password1")

	// Refresh rotates: the new pair works, the used refresh token does not,
	// and presenting it again revokes the whole session.
	r := a.call("POST", "/api/auth/refresh", phone.refresh, nil).must(t, 200, "refresh")
	rotated := authSession{access: r.str("access_token"), refresh: r.str("refresh_token")}
	if rotated.refresh == phone.refresh || r.str("email") != "ann@example.com" || r.body["admin_created"] != false {
		t.Fatalf("refresh answer %v", r.body)
	}
	a.call("GET", "/api/auth/me", rotated.access, nil).must(t, 200, "me with refreshed token")
	// The body form works too.
	r2 := a.call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": rotated.refresh}).
		must(t, 200, "refresh via body")
	rotated2 := authSession{access: r2.str("access_token"), refresh: r2.str("refresh_token")}
	a.call("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": rotated.refresh}).
		must(t, 401, "replayed refresh token")
	a.call("GET", "/api/auth/me", rotated2.access, nil).must(t, 401, "access token of the replayed session")
	a.call("POST", "/api/auth/refresh", rotated2.refresh, nil).must(t, 401, "newest refresh of the replayed session")
	a.call("GET", "/api/auth/me", laptop.access, nil).must(t, 200, "other device after replay")

	// Logout on the laptop ends the phone's fresh session at once.
	phone = a.login("ann@example.com", "password1")
	out := a.call("POST", "/api/auth/logout", laptop.access, nil).must(t, 200, "logout")
	if !strings.Contains(out.str("message"), "Successfully logged out (2 tokens revoked)") {
		t.Errorf("logout message %q", out.str("message"))
	}
	a.call("GET", "/api/auth/me", phone.access, nil).must(t, 401, "other device's access token after logout")
	a.call("POST", "/api/auth/refresh", phone.refresh, nil).must(t, 401, "other device's refresh token after logout")
	a.call("GET", "/api/auth/me", laptop.access, nil).must(t, 401, "own token after logout")
	a.call("POST", "/api/auth/logout", laptop.access, nil).must(t, 401, "logout twice")
	a.call("GET", "/api/auth/me", root.access, nil).must(t, 200, "other user after logout")
	again := a.login("ann@example.com", "password1")
	a.call("GET", "/api/auth/me", again.access, nil).must(t, 200, "login right after logout")

	// Logout survives an api restart: the revocation is reloaded.
	if err := a.role.Stop(t); err != nil {
		t.Fatal(err)
	}
	a = startAccounts(t, env)
	a.call("GET", "/api/auth/me", phone.access, nil).must(t, 401, "revoked token after restart")
	a.call("GET", "/api/auth/me", again.access, nil).must(t, 200, "live token after restart")

	a.call("POST", "/api/auth/login", "", map[string]string{"email": "ann@example.com", "password": "wrong-pass"}).
		must(t, 401, "wrong password")
	a.call("POST", "/api/auth/login", "", `{"email":`).must(t, 422, "malformed login")
}

func TestRegisterAndOwnAccount(t *testing.T) {
	env := testenv.New(t)
	env.Config.RateLimit.RegisterPerMinute = 100
	a := startAccounts(t, env)
	root := a.admin()

	r := a.call("POST", "/api/auth/register", "", map[string]string{"email": " Bob@Example.com ", "password": "password1"}).
		must(t, 201, "register")
	if r.str("email") != "bob@example.com" || r.str("message") != "User registered successfully" || r.str("id") == "" {
		t.Fatalf("register answer %v", r.body)
	}
	a.call("POST", "/api/auth/register", "", map[string]string{"email": "BOB@example.com", "password": "password1"}).
		must(t, 400, "duplicate registration")
	a.call("POST", "/api/auth/register", "", map[string]string{"email": "x@example.com", "password": "short"}).
		must(t, 422, "short password")
	a.call("POST", "/api/auth/register", "", map[string]string{"email": "not-an-email", "password": "password1"}).
		must(t, 422, "bad email")
	a.call("POST", "/api/auth/register", "", map[string]any{"email": "eve@example.com", "password": "password1",
		"is_admin": true}).must(t, 403, "register asking for admin")
	a.call("POST", "/api/auth/login", "", map[string]string{"email": "eve@example.com", "password": "password1"}).
		must(t, 401, "refused registration left no account")

	bob := a.login("bob@example.com", "password1")
	a.call("PATCH", "/api/auth/me", bob.access, map[string]any{"is_admin": true}).must(t, 403, "PATCH me is_admin")
	a.call("PATCH", "/api/auth/me", bob.access, map[string]any{"email": "bobby@example.com"}).
		must(t, 422, "email change without current password")
	a.call("PATCH", "/api/auth/me", bob.access, map[string]any{"email": "bobby@example.com",
		"current_password": "nope-nope"}).must(t, 403, "wrong current password")
	me := a.call("PATCH", "/api/auth/me", bob.access, map[string]any{"email": "Bobby@example.com",
		"current_password": "password1"}).must(t, 200, "email change")
	if me.str("email") != "bobby@example.com" || me.body["is_admin"] != false {
		t.Fatalf("after email change: %v", me.body)
	}
	a.call("PATCH", "/api/auth/me", bob.access, map[string]any{"password": "password2",
		"current_password": "password1"}).must(t, 200, "password change")
	a.call("GET", "/api/auth/me", bob.access, nil).must(t, 401, "token after password change")
	bob = a.login("bobby@example.com", "password2")

	// Disabling public registration closes registration only.
	a.call("PATCH", "/api/admin/settings", root.access, map[string]any{"allow_public_registration": false}).
		must(t, 200, "disable registration")
	d := a.call("POST", "/api/auth/register", "", map[string]string{"email": "carl@example.com", "password": "password1"}).
		must(t, 403, "register while disabled")
	if !strings.Contains(d.str("detail"), "disabled") {
		t.Errorf("detail %q", d.str("detail"))
	}
	a.call("POST", "/api/auth/register", "", "garbage").must(t, 403, "malformed register while disabled")
	a.login("bobby@example.com", "password2")
	a.call("POST", "/api/auth/refresh", bob.refresh, nil).must(t, 200, "refresh while registration disabled")
	a.call("POST", "/api/admin/users", root.access, map[string]any{"email": "carl@example.com", "password": "password1"}).
		must(t, 201, "admin creates a user while registration disabled")
	pc := a.call("GET", "/api/auth/portal-config", "", nil).must(t, 200, "portal-config")
	if pc.body["registration_enabled"] != false || pc.str("instance_name") != "TinyBase" || pc.body["logo_url"] != nil {
		t.Errorf("portal-config %v", pc.body)
	}
	a.call("GET", "/api/auth/portal-config?preview=true", bob.access, nil).must(t, 403, "preview as non-admin")
	pv := a.call("GET", "/api/auth/portal-config?preview=true&logo_url=https://x.example/l.png", root.access, nil).
		must(t, 200, "preview as admin")
	if pv.str("logo_url") != "https://x.example/l.png" {
		t.Errorf("preview %v", pv.body)
	}
	if r := a.call("GET", "/api/auth/setup-status", "", nil).must(t, 200, "setup-status"); r.body["needs_setup"] != false {
		t.Errorf("setup-status %v", r.body)
	}
	if r := a.call("GET", "/api/auth/instance-info", "", nil).must(t, 200, "instance-info"); r.str("instance_name") != "TinyBase" {
		t.Errorf("instance-info %v", r.body)
	}
}

func TestAdminUsers(t *testing.T) {
	env := testenv.New(t)
	a := startAccounts(t, env)
	root := a.admin()
	ann := a.newUser(root, "ann@example.com")

	a.call("GET", "/api/admin/users", ann.access, nil).must(t, 403, "list as user")
	a.call("GET", "/api/admin/users", "", nil).must(t, 401, "list anonymously")
	a.call("PATCH", "/api/admin/users/"+ann.userID, ann.access, map[string]any{"is_admin": true}).
		must(t, 403, "user promotes itself")
	l := a.call("GET", "/api/admin/users?limit=1&offset=1", root.access, nil).must(t, 200, "list")
	if l.body["total"] != float64(2) || l.body["limit"] != float64(1) || len(l.body["users"].([]any)) != 1 {
		t.Fatalf("list %v", l.body)
	}
	a.call("GET", "/api/admin/users?limit=0", root.access, nil).must(t, 422, "limit 0")
	a.call("POST", "/api/admin/users", root.access, map[string]any{"email": "ANN@example.com", "password": "password1"}).
		must(t, 400, "duplicate create")
	g := a.call("GET", "/api/admin/users/"+ann.userID, root.access, nil).must(t, 200, "get")
	if g.str("email") != "ann@example.com" || g.str("updated_at") == "" {
		t.Errorf("get %v", g.body)
	}
	a.call("GET", "/api/admin/users/nope", root.access, nil).must(t, 404, "get unknown")

	// A promotion takes effect on the next request with the same token.
	a.call("PATCH", "/api/admin/users/"+ann.userID, root.access, map[string]any{"is_admin": true}).must(t, 200, "promote")
	a.call("GET", "/api/admin/users", ann.access, nil).must(t, 200, "promoted user lists users")
	a.call("PATCH", "/api/admin/users/"+ann.userID, root.access, map[string]any{"is_admin": false}).must(t, 200, "demote")
	a.call("GET", "/api/admin/users", ann.access, nil).must(t, 403, "demoted user with its old token")

	a.call("PATCH", "/api/admin/users/"+root.userID, root.access, map[string]any{"is_admin": false}).
		must(t, 400, "demote last admin")
	a.call("DELETE", "/api/admin/users/"+root.userID, root.access, nil).must(t, 400, "delete self")
	a.call("PATCH", "/api/admin/users/"+ann.userID, root.access, map[string]any{"password": "password9"}).
		must(t, 200, "admin sets a password")
	a.call("GET", "/api/auth/me", ann.access, nil).must(t, 401, "session after admin password change")
	ann = a.login("ann@example.com", "password9")

	// Deleting a user who owns records and calls keeps them, without owner.
	a.call("POST", "/api/collections", root.access, map[string]any{"name": "notes", "label": "Notes",
		"schema": map[string]any{"fields": []map[string]any{{"name": "title", "type": "string"}}}}).
		must(t, 201, "create collection")
	rec := a.call("POST", "/api/collections/notes/records", ann.access, map[string]any{"data": map[string]any{"title": "x"}}).
		must(t, 201, "create record")
	a.call("DELETE", "/api/admin/users/"+ann.userID, root.access, nil).must(t, 204, "delete user with records")
	a.call("GET", "/api/auth/me", ann.access, nil).must(t, 401, "token of deleted user")
	got := a.call("GET", "/api/collections/notes/records/"+rec.str("id"), root.access, nil).must(t, 200, "record kept")
	if got.body["owner_id"] != nil {
		t.Errorf("record owner after delete = %v", got.body["owner_id"])
	}
	a.call("DELETE", "/api/admin/users/"+ann.userID, root.access, nil).must(t, 404, "delete twice")

	// Another admin may not delete the last admin either.
	ops := a.newUser(root, "ops@example.com")
	a.call("PATCH", "/api/admin/users/"+ops.userID, root.access, map[string]any{"is_admin": true}).must(t, 200, "promote ops")
	a.call("DELETE", "/api/admin/users/"+root.userID, ops.access, nil).must(t, 204, "ops deletes root")
	a.call("DELETE", "/api/admin/users/"+ops.userID, ops.access, nil).must(t, 400, "last admin deletes itself")
}

func TestSettingsAPI(t *testing.T) {
	env := testenv.New(t)
	a := startAccounts(t, env)
	root := a.admin()
	user := a.newUser(root, "ann@example.com")

	user2, pass := env.Config.BusCredentials()
	nc, err := nats.Connect(env.Bus.ClientURL(), nats.UserInfo(user2, pass))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	events, err := nc.SubscribeSync(bus.SettingsChangedSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	a.call("GET", "/api/admin/settings", user.access, nil).must(t, 403, "settings as user")
	g := a.call("GET", "/api/admin/settings", root.access, nil).must(t, 200, "get settings")
	if g.str("instance_name") != "TinyBase" || g.body["allow_public_registration"] != true ||
		g.str("server_timezone") != "UTC" || g.body["storage_enabled"] != false ||
		g.body["scheduler_function_timeout_seconds"] != float64(1800) {
		t.Fatalf("defaults %v", g.body)
	}
	p := a.call("PATCH", "/api/admin/settings", root.access, map[string]any{
		"instance_name": "Acme", "server_timezone": "America/New_York", "storage_secret_key": "s3cr3t",
		"core.scheduler.function_timeout_seconds": 5, "ext.mailer.api_key": "k-1",
	}).must(t, 200, "patch settings")
	if p.str("instance_name") != "Acme" || p.str("server_timezone") != "America/New_York" || strings.Contains(p.raw, "s3cr3t") {
		t.Fatalf("patched %v", p.raw)
	}
	if s, _ := p.body["settings"].(map[string]any); s["ext.mailer.api_key"] != "k-1" ||
		s["core.scheduler.function_timeout_seconds"] != float64(5) {
		t.Fatalf("settings map %v", p.body["settings"])
	}
	msg, err := events.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no settings event: %v", err)
	}
	var ev struct {
		Keys     []string       `json:"keys"`
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil || len(ev.Keys) != 5 ||
		ev.Settings["core.instance_name"] != "Acme" || strings.Contains(string(msg.Data), "s3cr3t") {
		t.Fatalf("event %s (%v)", msg.Data, err)
	}

	bad := a.call("PATCH", "/api/admin/settings", root.access, map[string]any{
		"instance_name": "Other", "server_timezone": "Invalid/Timezone"}).must(t, 400, "bad timezone")
	if !strings.Contains(bad.str("detail"), "timezone") {
		t.Errorf("detail %q", bad.str("detail"))
	}
	a.call("PATCH", "/api/admin/settings", root.access, map[string]any{
		"auth_portal_logo_url": "ftp://x"}).must(t, 400, "bad url")
	a.call("PATCH", "/api/admin/settings", root.access, map[string]any{"nope": 1}).must(t, 400, "unknown key")
	if g := a.call("GET", "/api/auth/instance-info", "", nil); g.str("instance_name") != "Acme" {
		t.Errorf("a refused change saved something: %v", g.body)
	}
	if _, err := events.NextMsg(200 * time.Millisecond); err == nil {
		t.Error("a refused change was announced")
	}
	// The nested form, as a client that sends back what it read would.
	a.call("PATCH", "/api/admin/settings", root.access, map[string]any{
		"settings": map[string]any{"ext.mailer.api_key": nil}}).must(t, 200, "nested patch")
	if g := a.call("GET", "/api/admin/settings", root.access, nil); strings.Contains(g.raw, "ext.mailer") {
		t.Errorf("ext key not deleted: %s", g.raw)
	}
}

func TestAuthRateLimits(t *testing.T) {
	env := testenv.New(t)
	env.Config.RateLimit.LoginPerMinute = 3
	a := startAccounts(t, env)
	for i := range 3 {
		a.call("POST", "/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": "wrong-pass"}).
			must(t, 401, fmt.Sprintf("login %d", i))
	}
	r := a.call("POST", "/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": "admin12345"}).
		must(t, 429, "login over the limit")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" || !strings.Contains(r.str("detail"), "3 per 1 minute") {
		t.Errorf("429 answer: Retry-After %q, %v", ra, r.body)
	}
	// Other routes keep working; refresh has its own budget.
	a.call("GET", "/api/health", "", nil).must(t, 200, "health while limited")
	for i := range 5 {
		a.call("POST", "/api/auth/register", "", map[string]string{"email": fmt.Sprintf("u%d@example.com", i),
			"password": "password1"}).must(t, 201, "register")
	}
	a.call("POST", "/api/auth/register", "", map[string]string{"email": "u9@example.com", "password": "password1"}).
		must(t, 429, "sixth registration in a minute")
}
