package config

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Effective renders the configuration as TOML with secret values masked,
// for `tinybase config check`.
func (c *Config) Effective() (string, error) {
	shown := *c
	v := reflect.ValueOf(&shown).Elem()
	err := walk(v, "", func(key string, f reflect.StructField, fv reflect.Value) error {
		if fv.Kind() != reflect.String {
			return nil
		}
		if f.Tag.Get("secret") == "true" {
			fv.SetString(mask(fv.String()))
		} else if masked, ok := maskURLPassword(fv.String()); ok {
			fv.SetString(masked)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	if err := enc.Encode(shown); err != nil {
		return "", fmt.Errorf("encode config: %w", err)
	}
	return buf.String(), nil
}

// maskURLPassword hides the password of a URL such as
// nats://user:secret@host:4222.
func maskURLPassword(s string) (string, bool) {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s, false
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s, false
	}
	if _, has := u.User.Password(); !has {
		return s, false
	}
	u.User = url.UserPassword(u.User.Username(), "********")
	return strings.Replace(u.String(), "%2A%2A%2A%2A%2A%2A%2A%2A", "********", 1), true
}
