package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Load reads the configuration of the project in dir: defaults, then
// dir/tinybase.toml when it exists, then the environment (environ, in
// os.Environ form), then the secrets in dir/.tinybase. It validates the
// result; an error names the file or variable, the key and the reason.
func Load(dir string, environ []string) (*Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve project folder: %w", err)
	}
	cfg := Default()
	cfg.Dir = abs
	path := filepath.Join(abs, FileName)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		cfg.File = path
		if err := decodeFile(&cfg, path, data); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sec, err := ReadSecrets(cfg.StatePath())
	if err != nil && !errors.Is(err, ErrNotInitialised) {
		return nil, err
	}
	cfg.Secrets = sec
	return &cfg, nil
}

func decodeFile(cfg *Config, path string, data []byte) error {
	name := filepath.Base(path)
	strict := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	probe := Default()
	err := strict.Decode(&probe)
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		for _, e := range missing.Errors {
			row, _ := e.Position()
			cfg.Warnings = append(cfg.Warnings,
				fmt.Sprintf("%s:%d: unknown key %q is ignored", name, row, strings.Join(e.Key(), ".")))
		}
	}
	if err := toml.Unmarshal(data, cfg); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			if key == "" {
				return fmt.Errorf("%s:%d: %s", path, row, de.Error())
			}
			return fmt.Errorf("%s:%d: %s: %s", path, row, key, plainTypeError(de.Error()))
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

var tomlTypeErr = regexp.MustCompile(`cannot decode TOML (\w+) into .* of type (\S+)`)

// plainTypeError rewords go-toml's type mismatch (which names Go struct
// fields) in the terms of the file.
func plainTypeError(msg string) string {
	m := tomlTypeErr.FindStringSubmatch(msg)
	if m == nil {
		return strings.TrimPrefix(msg, "toml: ")
	}
	want := map[string]string{"bool": "true or false", "int": "a whole number", "string": "a quoted string",
		"[]string": "a list of strings"}[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("must be %s, found a TOML %s", want, m[1])
}

// applyEnv copies every TINYBASE_* variable named by an `env` tag into cfg.
func applyEnv(cfg *Config, environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	known := map[string]bool{}
	for _, name := range otherEnv {
		known[name] = true
	}
	cfg.fromEnv = map[string]string{}
	err := walk(reflect.ValueOf(cfg).Elem(), "", func(key string, f reflect.StructField, v reflect.Value) error {
		name := f.Tag.Get("env")
		known[name] = true
		raw, ok := env[name]
		if name == "" || !ok {
			return nil
		}
		if err := setFromString(v, raw); err != nil {
			return fmt.Errorf("environment %s (%s): %w", name, key, err)
		}
		cfg.fromEnv[key] = name
		return nil
	})
	if err != nil {
		return err
	}
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "TINYBASE_") && !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("environment %s is not a TinyBase setting and is ignored", k))
	}
	return nil
}

// otherEnv are TINYBASE_* variables read outside the configuration: by the
// command line, by roles started under the supervisor, and by the
// Python TinyBase's deploy tooling.
var otherEnv = []string{"TINYBASE_DIR", "TINYBASE_SUPERVISED", "TINYBASE_API_URL", "TINYBASE_API_TOKEN",
	"TINYBASE_TIMEOUT", "TINYBASE_ENV"}

// walk visits every leaf field that has a toml key, with its dotted key.
func walk(v reflect.Value, prefix string, fn func(key string, f reflect.StructField, v reflect.Value) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := walk(fv, key, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, f, fv); err != nil {
			return err
		}
	}
	return nil
}

func setFromString(v reflect.Value, raw string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not an integer: %q", raw)
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not a boolean (true or false): %q", raw)
		}
		v.SetBool(b)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}

// Validate checks value ranges. Errors name the key and the source file.
func (c *Config) Validate() error {
	src := c.File
	if src == "" {
		src = "configuration"
	}
	bad := func(key, format string, a ...any) error {
		if name, ok := c.fromEnv[key]; ok {
			return fmt.Errorf("environment %s (%s): %s", name, key, fmt.Sprintf(format, a...))
		}
		return fmt.Errorf("%s: %s: %s", src, key, fmt.Sprintf(format, a...))
	}
	port := func(key string, p int) error {
		if p < 1 || p > 65535 {
			return bad(key, "must be a port between 1 and 65535, got %d", p)
		}
		return nil
	}
	positive := func(key string, n int) error {
		if n <= 0 {
			return bad(key, "must be greater than 0, got %d", n)
		}
		return nil
	}
	nonNegative := func(key string, n int) error {
		if n < 0 {
			return bad(key, "must not be negative, got %d", n)
		}
		return nil
	}
	checks := []error{
		port("server.port", c.Server.Port),
		port("bus.port", c.Bus.Port),
		positive("jwt.access_token_expire_minutes", c.JWT.AccessTokenExpireMinutes),
		positive("jwt.refresh_token_expire_days", c.JWT.RefreshTokenExpireDays),
		nonNegative("jwt.leeway_seconds", c.JWT.LeewaySeconds),
		nonNegative("functions.cold_start_pool_size", c.Functions.ColdStartPoolSize),
		nonNegative("functions.cold_start_ttl_seconds", c.Functions.ColdStartTTLSeconds),
		positive("functions.timeout_seconds", c.Functions.TimeoutSeconds),
		positive("functions.max_payload_bytes", c.Functions.MaxPayloadBytes),
		positive("functions.max_result_bytes", c.Functions.MaxResultBytes),
		positive("functions.scan_interval_seconds", c.Functions.ScanIntervalSeconds),
		nonNegative("worker.count", c.Worker.Count),
		positive("worker.concurrency", c.Worker.Concurrency),
		nonNegative("worker.drain_seconds", c.Worker.DrainSeconds),
		positive("scheduler.lease_seconds", c.Scheduler.LeaseSeconds),
		nonNegative("auth.hash_concurrency", c.Auth.HashConcurrency),
		positive("server.body_limit_bytes", c.Server.BodyLimitBytes),
		positive("extensions.hook_timeout_ms", c.Extensions.HookTimeoutMS),
		nonNegative("rate_limit.max_concurrent_functions_per_user", c.RateLimit.MaxConcurrentFunctionsPerUser),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		return bad("auth.bcrypt_cost", "must be between 4 and 31, got %d", c.Auth.BcryptCost)
	}
	switch strings.ToLower(c.Server.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return bad("server.log_level", "must be one of debug, info, warn, error, got %q", c.Server.LogLevel)
	}
	switch c.Server.LogFormat {
	case "text", "json":
	default:
		return bad("server.log_format", "must be text or json, got %q", c.Server.LogFormat)
	}
	if c.JWT.Algorithm != "HS256" {
		return bad("jwt.algorithm", "only HS256 is supported, got %q", c.JWT.Algorithm)
	}
	if strings.TrimSpace(c.Functions.Dir) == "" {
		return bad("functions.dir", "must not be empty")
	}
	if _, err := c.DatabasePath(); err != nil {
		return bad("database.url", "%v", err)
	}
	if c.Bus.URL != "" && !strings.Contains(c.Bus.URL, "://") {
		return bad("bus.url", "must be a URL such as nats://host:4222, got %q", c.Bus.URL)
	}
	if c.Server.PublicURL != "" && !strings.HasPrefix(c.Server.PublicURL, "http://") &&
		!strings.HasPrefix(c.Server.PublicURL, "https://") {
		return bad("server.public_url", "must start with http:// or https://, got %q", c.Server.PublicURL)
	}
	if err := c.validateAccounts(bad); err != nil {
		return err
	}
	return nil
}

// Path resolves p against the project folder unless it is absolute.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Dir, p)
}

// StatePath returns the .tinybase folder of the project.
func (c *Config) StatePath() string { return filepath.Join(c.Dir, StateDir) }

// DatabasePath returns the SQLite file named by database.url.
func (c *Config) DatabasePath() (string, error) {
	u := strings.TrimSpace(c.Database.URL)
	switch {
	case strings.HasPrefix(u, "sqlite:///"):
		u = strings.TrimPrefix(u, "sqlite:///")
	case strings.HasPrefix(u, "sqlite://"):
		u = strings.TrimPrefix(u, "sqlite://")
	case strings.Contains(u, "://"):
		return "", fmt.Errorf("only sqlite URLs are supported, got %q", c.Database.URL)
	}
	if u == "" {
		return "", errors.New("database path is empty")
	}
	return c.Path(u), nil
}

// FunctionsDir returns the absolute functions folder.
func (c *Config) FunctionsDir() string { return c.Path(c.Functions.Dir) }

// BusURL returns the URL roles connect to: bus.url, else the embedded server.
func (c *Config) BusURL() string {
	if c.Bus.URL != "" {
		return c.Bus.URL
	}
	host := c.Bus.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("nats://%s:%d", host, c.Bus.Port)
}

// BusCredentials returns the user and password for the bus: explicit
// [bus] values win over the generated secrets.
func (c *Config) BusCredentials() (user, password string) {
	user, password = c.Secrets.BusUser, c.Secrets.BusPassword
	if c.Bus.User != "" {
		user = c.Bus.User
	}
	if c.Bus.Password != "" {
		password = c.Bus.Password
	}
	return user, password
}

// APIURL is the base URL function processes use to call back into the API.
func (c *Config) APIURL() string {
	if c.Server.PublicURL != "" {
		return strings.TrimRight(c.Server.PublicURL, "/") + "/api"
	}
	return fmt.Sprintf("http://127.0.0.1:%d/api", c.Server.Port)
}
