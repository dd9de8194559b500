package settings

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

func newService(t *testing.T) (*Service, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewService(db, Defaults{FunctionTimeoutSeconds: 1800, MaxConcurrentFunctionsPerUser: 10})
	if _, err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

func body(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDefaults(t *testing.T) {
	s, _ := newService(t)
	c := s.Current()
	if c.String(InstanceName) != "TinyBase" || !c.Bool(AllowPublicRegistration) || c.String(ServerTimezone) != "UTC" ||
		c.FunctionTimeout() != 30*time.Minute || c.MaxConcurrentFunctionsPerUser() != 10 ||
		!c.Bool(AdminReportEnabled) || c.Bool(PortalEnabled) || c.UpdatedAt != "" {
		t.Errorf("defaults: %v", c.Public())
	}
	if _, ok := c.Public()[StorageSecretKey]; ok {
		t.Error("secret in public view")
	}
	if _, ok := c.Legacy()["storage_access_key"]; ok {
		t.Error("secret in legacy view")
	}
}

func TestUpdateAndReload(t *testing.T) {
	s, db := newService(t)
	ctx := context.Background()
	var got []Change
	s.OnChange(func(c Change) { got = append(got, c) })
	snap, keys, err := s.Update(ctx, body(t, `{
		"instance_name": "Acme",
		"core.scheduler.function_timeout_seconds": 90,
		"server_timezone": "America/New_York",
		"storage_secret_key": "s3cr3t",
		"ext.mailer.api_key": "k-1",
		"ext.mailer.retry": {"max": 3},
		"token_cleanup_interval": 60,
		"auth_portal_logo_url": null
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "core.instance_name core.scheduler.function_timeout_seconds core.server_timezone core.storage.secret_key ext.mailer.api_key ext.mailer.retry"
	if strings.Join(keys, " ") != want {
		t.Errorf("changed keys = %v", keys)
	}
	if snap.String(InstanceName) != "Acme" || snap.FunctionTimeout() != 90*time.Second ||
		snap.Location().String() != "America/New_York" || snap.String(StorageSecretKey) != "s3cr3t" {
		t.Errorf("snapshot: %v", snap.Public())
	}
	if v, ok := snap.Ext("ext.mailer.retry"); !ok || string(v) != `{"max":3}` {
		t.Errorf("ext value = %s, %v", v, ok)
	}
	if len(got) != 1 || len(got[0].Keys) != 6 || got[0].Snapshot != s.Current() {
		t.Errorf("change events: %+v", got)
	}
	if _, ok := got[0].Snapshot.Public()[StorageSecretKey]; ok {
		t.Error("secret in the change event's public view")
	}

	// Same values again: nothing changes, nothing is announced.
	if _, keys, err := s.Update(ctx, body(t, `{"core.instance_name": "Acme"}`)); err != nil || len(keys) != 0 || len(got) != 1 {
		t.Errorf("no-op update: %v, %v, %d events", keys, err, len(got))
	}

	// A fresh service reads the same values back.
	s2 := NewService(db, Defaults{FunctionTimeoutSeconds: 1800, MaxConcurrentFunctionsPerUser: 10})
	if w, err := s2.Load(ctx); err != nil || len(w) != 0 {
		t.Fatalf("reload: %v %v", w, err)
	}
	if s2.Current().String(InstanceName) != "Acme" || s2.Current().FunctionTimeout() != 90*time.Second {
		t.Errorf("reloaded: %v", s2.Current().Public())
	}

	// Null on a core key restores the default; on an ext key it deletes.
	snap, _, err = s.Update(ctx, body(t, `{"core.scheduler.function_timeout_seconds": null, "ext.mailer.retry": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if snap.FunctionTimeout() != 30*time.Minute || snap.IsSet(FunctionTimeoutSeconds) {
		t.Errorf("timeout after reset = %v", snap.FunctionTimeout())
	}
	if _, ok := snap.Ext("ext.mailer.retry"); ok {
		t.Error("ext key still set after null")
	}
}

func TestValidationSavesNothing(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	tests := []struct {
		name, body, key string
	}{
		{"bad zone", `{"server_timezone": "Mars/Olympus"}`, "server_timezone"},
		{"local zone", `{"core.server_timezone": "Local"}`, "core.server_timezone"},
		{"bad url", `{"instance_name": "X", "auth_portal_logo_url": "javascript:alert(1)"}`, "auth_portal_logo_url"},
		{"relative url", `{"core.storage.endpoint": "/s3"}`, "core.storage.endpoint"},
		{"admin redirect", `{"auth_portal_login_redirect_url": "https://app.example.com/admin/x"}`,
			"auth_portal_login_redirect_url"},
		{"admin redirect, doubled slash", `{"auth_portal_login_redirect_url": "https://app.example.com//admin"}`,
			"auth_portal_login_redirect_url"},
		{"admin redirect, dot segments", `{"auth_portal_login_redirect_url": "https://app.example.com/x/../ADMIN"}`,
			"auth_portal_login_redirect_url"},
		{"portal without redirects", `{"auth_portal_enabled": true}`, PortalLoginRedirectURL},
		{"storage without bucket", `{"storage_enabled": true, "storage_endpoint": "https://s3.example.com"}`,
			StorageBucket},
		{"string for bool", `{"allow_public_registration": "no"}`, "allow_public_registration"},
		{"fraction", `{"core.scheduler.function_timeout_seconds": 1.5}`, FunctionTimeoutSeconds},
		{"zero timeout", `{"core.scheduler.function_timeout_seconds": 0}`, FunctionTimeoutSeconds},
		{"too long name", `{"instance_name": "` + strings.Repeat("n", 101) + `"}`, "instance_name"},
		{"empty name", `{"instance_name": "  "}`, "instance_name"},
		{"bad colour", `{"auth_portal_primary_color": "red"}`, "auth_portal_primary_color"},
		{"unknown core", `{"core.nope": 1}`, "core.nope"},
		{"unknown flat", `{"nope": 1}`, "nope"},
		{"bad ext key", `{"ext.Bad.key": 1}`, "ext.Bad.key"},
		{"ext without key", `{"ext.mailer": 1}`, "ext.mailer"},
		{"conflict", `{"instance_name": "A", "core.instance_name": "B"}`, "instance_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Update(ctx, body(t, tt.body))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Key != tt.key {
				t.Fatalf("error = %v, want ValidationError for %s", err, tt.key)
			}
			if s.Current().String(InstanceName) != "TinyBase" || s.Current().UpdatedAt != "" {
				t.Fatalf("something was saved: %v", s.Current().Public())
			}
		})
	}
	// Every refused value of one request is reported, not only the first.
	_, _, err := s.Update(ctx, body(t, `{"server_timezone": "Mars/Olympus", "auth_portal_primary_color": "red",
		"instance_name": "ok"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.More) != 1 {
		t.Fatalf("two bad values: %v (more: %v)", err, ve)
	}
	if keys := []string{ve.Key, ve.More[0].Key}; !slices.Contains(keys, "server_timezone") ||
		!slices.Contains(keys, "auth_portal_primary_color") {
		t.Fatalf("refused keys %v", keys)
	}
	// The portal passes once both redirect URLs are given in the same change.
	if _, _, err := s.Update(ctx, body(t, `{"auth_portal_enabled": true,
		"auth_portal_login_redirect_url": "https://app.example.com/in",
		"auth_portal_register_redirect_url": "https://app.example.com/welcome"}`)); err != nil {
		t.Errorf("portal with redirects: %v", err)
	}
}

func TestValidExtKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"ext.mailer.api_key": true, "ext.my-ext.a.b_c": true, "ext.x1.y": true,
		"ext.mailer": false, "ext..x": false, "ext.Mailer.x": false, "ext.m.": false, "core.x.y": false,
		"ext.m.x y": false, "ext.m." + strings.Repeat("a", 65): false,
	} {
		if ValidExtKey(key) != ok {
			t.Errorf("ValidExtKey(%q) = %v", key, !ok)
		}
	}
}
