package extension

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/settings"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// NameRE is what an extension name must match: it appears in URLs
// (/api/ext/<name>), setting keys (ext.<name>.*) and folder names.
var NameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true}

// Route auth levels.
const (
	AuthPublic = "public"
	AuthUser   = "user"
	AuthAdmin  = "admin"
)

// manifestOf checks what an extension described and converts it.
func manifestOf(d *extv1.DescribeResponse) (Manifest, error) {
	bad := func(format string, a ...any) (Manifest, error) {
		return Manifest{}, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if !NameRE.MatchString(d.Name) {
		return bad("name %q must be lower-case letters, digits and '-', starting with a letter (at most 64)", d.Name)
	}
	if strings.TrimSpace(d.Version) == "" {
		return bad("version is required")
	}
	var mf Manifest
	seen := map[extv1.Hook]bool{}
	for _, h := range d.Hooks {
		name := HookName(h.Hook)
		if name == "" {
			return bad("unknown hook %d", h.Hook)
		}
		if seen[h.Hook] {
			return bad("hook %s listed twice", name)
		}
		seen[h.Hook] = true
		mf.Hooks = append(mf.Hooks, HookSub{Hook: name, Collections: h.Collections})
	}
	keys := map[string]bool{}
	for _, s := range d.Settings {
		full := settings.ExtPrefix + d.Name + "." + s.Key
		if !settings.ValidExtKey(full) {
			return bad("setting key %q is not valid (lower-case letters, digits, '_', '-', dot-separated)", s.Key)
		}
		if keys[s.Key] {
			return bad("setting %s declared twice", s.Key)
		}
		keys[s.Key] = true
		var schema map[string]any
		if err := json.Unmarshal(s.SchemaJson, &schema); err != nil {
			return bad("setting %s: schema must be a JSON object", s.Key)
		}
		if len(s.DefaultJson) > 0 {
			if !json.Valid(s.DefaultJson) {
				return bad("setting %s: default is not valid JSON", s.Key)
			}
			errs, err := functions.ValidateInput(s.SchemaJson, s.DefaultJson)
			if err != nil {
				return bad("setting %s: %v", s.Key, err)
			}
			if len(errs) > 0 {
				return bad("setting %s: default does not match its schema: %s", s.Key, describeErrs(errs))
			}
		}
		mf.Settings = append(mf.Settings, SettingSpec{Key: s.Key, Schema: s.SchemaJson, Default: s.DefaultJson,
			Description: s.Description})
	}
	for _, r := range d.Routes {
		m := strings.ToUpper(r.Method)
		if !methods[m] {
			return bad("route %s %s: unsupported method", r.Method, r.Path)
		}
		if !strings.HasPrefix(r.Path, "/") || strings.Contains(r.Path, "..") {
			return bad("route %s %s: path must start with /", r.Method, r.Path)
		}
		if r.Auth != AuthPublic && r.Auth != AuthUser && r.Auth != AuthAdmin {
			return bad("route %s %s: auth must be public, user or admin", r.Method, r.Path)
		}
		mf.Routes = append(mf.Routes, RouteSpec{Method: m, Path: r.Path, Auth: r.Auth})
	}
	return mf, nil
}

func describeErrs(errs []functions.FieldError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		f := e.Field
		if f == "" || f == "(payload)" {
			f = "value"
		}
		parts = append(parts, f+" "+e.Message)
	}
	return strings.Join(parts, "; ")
}

// CheckSetting validates a new value of an ext.* setting against the
// schema its extension declared. Keys of extensions that are not
// installed stay free-form. A null value (which deletes the key) is
// always accepted. The settings service calls it for every ext.* change.
func (m *Manager) CheckSetting(key string, value json.RawMessage) error {
	rest, ok := strings.CutPrefix(key, settings.ExtPrefix)
	if !ok {
		return nil
	}
	name, sub, ok := strings.Cut(rest, ".")
	if !ok {
		return nil
	}
	mf, installed := (*m.manifests.Load())[name]
	if !installed {
		return nil
	}
	for _, s := range mf.Settings {
		if s.Key != sub {
			continue
		}
		errs, err := functions.ValidateInput(s.Schema, value)
		if err != nil {
			return fmt.Errorf("extension %s declares an unusable schema: %v", name, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("does not match the schema of extension %s: %s", name, describeErrs(errs))
		}
		return nil
	}
	if len(mf.Settings) == 0 {
		return fmt.Errorf("extension %s declares no settings", name)
	}
	declared := make([]string, 0, len(mf.Settings))
	for _, s := range mf.Settings {
		declared = append(declared, s.Key)
	}
	return fmt.Errorf("extension %s declares no setting %q (it declares: %s)", name, sub,
		strings.Join(declared, ", "))
}
