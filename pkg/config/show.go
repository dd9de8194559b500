package config

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/pelletier/go-toml/v2"
)

// Effective renders the configuration as TOML with secret values masked,
// for `tinybase config check`.
func (c *Config) Effective() (string, error) {
	shown := *c
	v := reflect.ValueOf(&shown).Elem()
	err := walk(v, "", func(key string, f reflect.StructField, fv reflect.Value) error {
		if f.Tag.Get("secret") == "true" && fv.Kind() == reflect.String {
			fv.SetString(mask(fv.String()))
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
