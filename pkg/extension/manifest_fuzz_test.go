package extension

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tinybase/tinybase/pkg/functions"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// FuzzManifest feeds arbitrary descriptions to the manifest check: it
// must never panic, and what it accepts must hold the invariants the rest
// of the package relies on.
func FuzzManifest(f *testing.F) {
	f.Add("wordfilter", "1.0.0", "words", `{"type":"array","items":{"type":"string"}}`, `["forbidden"]`,
		"GET", "/words", "public", int32(1))
	f.Add("x", "1", "a.b", `{"type":"integer","minimum":1}`, `0`, "POST", "/a/*", "admin", int32(4))
	f.Add("Bad Name", "", "", `[]`, `x`, "TRACE", "nope", "root", int32(99))
	f.Fuzz(func(t *testing.T, name, version, key, schema, def, method, path, auth string, hook int32) {
		d := &extv1.DescribeResponse{Name: name, Version: version,
			Hooks:    []*extv1.HookSubscription{{Hook: extv1.Hook(hook)}},
			Settings: []*extv1.SettingSpec{{Key: key, SchemaJson: []byte(schema), DefaultJson: []byte(def)}},
			Routes:   []*extv1.RouteSpec{{Method: method, Path: path, Auth: auth}}}
		mf, err := manifestOf(d)
		if err != nil {
			return
		}
		if !NameRE.MatchString(name) || strings.TrimSpace(version) == "" {
			t.Fatalf("accepted name %q version %q", name, version)
		}
		for _, h := range mf.Hooks {
			if _, ok := hookByName(h.Hook); !ok {
				t.Fatalf("accepted hook %q", h.Hook)
			}
		}
		for _, r := range mf.Routes {
			if !strings.HasPrefix(r.Path, "/") || !methods[r.Method] ||
				(r.Auth != AuthPublic && r.Auth != AuthUser && r.Auth != AuthAdmin) {
				t.Fatalf("accepted route %+v", r)
			}
		}
		for _, s := range mf.Settings {
			if !json.Valid(s.Schema) {
				t.Fatalf("accepted schema %q", s.Schema)
			}
			if len(s.Default) == 0 {
				continue
			}
			if !json.Valid(s.Default) {
				t.Fatalf("accepted default %q", s.Default)
			}
			if errs, err := functions.ValidateInput(s.Schema, s.Default); err != nil || len(errs) > 0 {
				t.Fatalf("accepted default %q that fails its schema %q: %v %v", s.Default, s.Schema, errs, err)
			}
		}
	})
}
