package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTOML(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDefaultsWithoutFile(t *testing.T) {
	cfg, err := Load(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Port != 8000 || cfg.Bus.Port != 4222 || cfg.Worker.Count != 2 || cfg.File != "" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.Secrets.Present() {
		t.Fatal("secrets present in an empty folder")
	}
}

func TestPrecedence(t *testing.T) {
	dir := writeTOML(t, "[server]\nport = 9000\nhost = \"127.0.0.2\"\n[bus]\nport = 5000\n")
	cfg, err := Load(dir, []string{"TINYBASE_SERVER_PORT=9100", "UNRELATED=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Port != 9100 {
		t.Errorf("env should win over file: port %d", cfg.Server.Port)
	}
	if cfg.Server.Host != "127.0.0.2" {
		t.Errorf("file should win over default: host %q", cfg.Server.Host)
	}
	if cfg.Bus.Port != 5000 {
		t.Errorf("bus port %d", cfg.Bus.Port)
	}
	cfg, err = Load(dir, []string{"TINYBASE_BUS_PORT=6000", "TINYBASE_CORS_ALLOW_ORIGINS=https://a.example, https://b.example"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bus.Port != 6000 || len(cfg.CORS.AllowOrigins) != 2 || cfg.CORS.AllowOrigins[1] != "https://b.example" {
		t.Errorf("env: bus port %d, origins %v", cfg.Bus.Port, cfg.CORS.AllowOrigins)
	}
}

func TestErrorsNameFileKeyAndReason(t *testing.T) {
	tests := []struct {
		name string
		toml string
		env  []string
		want []string
	}{
		{"wrong type", "[server]\nport = \"eighty\"\n", nil, []string{FileName, "server.port"}},
		{"out of range", "[server]\nport = 70000\n", nil, []string{FileName, "server.port", "70000"}},
		{"bad level", "[server]\nlog_level = \"loud\"\n", nil, []string{"server.log_level", "loud"}},
		{"bad algorithm", "[jwt]\nalgorithm = \"none\"\n", nil, []string{"jwt.algorithm"}},
		{"bad db url", "[database]\nurl = \"postgres://x\"\n", nil, []string{"database.url", "sqlite"}},
		{"bad env int", "", []string{"TINYBASE_BUS_PORT=x"}, []string{"TINYBASE_BUS_PORT", "bus.port", "integer"}},
		{"bad env bool", "", []string{"TINYBASE_SCHEDULER_ENABLED=maybe"}, []string{"TINYBASE_SCHEDULER_ENABLED", "boolean"}},
		{"syntax", "[server\nport=1", nil, []string{FileName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeTOML(t, tc.toml), tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	cfg, err := Load(writeTOML(t, "[server]\nport = 8001\ncolour = \"red\"\n[nonsense]\nx = 1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Port != 8001 {
		t.Errorf("known key lost: %d", cfg.Server.Port)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	if !strings.Contains(joined, "server.colour") || !strings.Contains(joined, "nonsense") {
		t.Errorf("warnings %q", joined)
	}
}

func TestSecretsRoundTripAndMask(t *testing.T) {
	dir := writeTOML(t, "[email]\nsmtp_password = \"hunter22\"\n")
	sec, err := GenerateSecrets()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, StateDir)
	if err := WriteSecrets(state, sec); err != nil {
		t.Fatal(err)
	}
	if err := WriteSecrets(state, sec); err == nil {
		t.Error("WriteSecrets replaced an existing file")
	}
	info, err := os.Stat(filepath.Join(state, SecretsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode: %v %v", info, err)
	}
	cfg, err := Load(dir, []string{"TINYBASE_BUS_PASSWORD=override"})
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Secrets.JWTSecret) != string(sec.JWTSecret) {
		t.Error("jwt secret not loaded")
	}
	if u, p := cfg.BusCredentials(); u != "tinybase" || p != "override" {
		t.Errorf("bus credentials %q %q", u, p)
	}
	out, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter22", "override", sec.BusPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("effective config shows secret %q", secret)
		}
	}
}

func TestReadSecretsMissing(t *testing.T) {
	_, err := ReadSecrets(t.TempDir())
	if !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("err = %v", err)
	}
}

func TestDatabasePath(t *testing.T) {
	cfg := Default()
	cfg.Dir = "/srv/app"
	for url, want := range map[string]string{
		"sqlite:///./tinybase.db": "/srv/app/tinybase.db",
		"sqlite:////var/db/x.db":  "/var/db/x.db",
		"data/x.db":               "/srv/app/data/x.db",
	} {
		cfg.Database.URL = url
		got, err := cfg.DatabasePath()
		if err != nil || got != want {
			t.Errorf("%s: got %q %v, want %q", url, got, err, want)
		}
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	_, err := Load(t.TempDir(), []string{"TINYBASE_SERVER_PORT=70000"})
	if err == nil || !strings.Contains(err.Error(), "TINYBASE_SERVER_PORT") || strings.Contains(err.Error(), FileName) {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	cfg, err := Load(t.TempDir(), []string{"TINYBASE_SERVER_PORTT=1", "TINYBASE_DIR=.", "TINYBASE_SERVER_PORT=8001"})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	if !strings.Contains(joined, "TINYBASE_SERVER_PORTT") || strings.Contains(joined, "TINYBASE_DIR") ||
		strings.Contains(joined, "TINYBASE_SERVER_PORT ") {
		t.Fatalf("warnings %q", joined)
	}
}

func TestTypeErrorIsPlain(t *testing.T) {
	_, err := Load(writeTOML(t, "[rate_limit]\nenabled = \"yes\"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "rate_limit.enabled: must be true or false") ||
		strings.Contains(err.Error(), "struct field") {
		t.Fatalf("err = %v", err)
	}
}

func TestURLPasswordsMasked(t *testing.T) {
	cfg, err := Load(t.TempDir(), []string{"TINYBASE_BUS_URL=nats://tinybase:SECRETURL@10.0.0.1:4222"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "SECRETURL") || !strings.Contains(out, "nats://tinybase:********@10.0.0.1:4222") {
		t.Fatalf("effective config:\n%s", out)
	}
}
