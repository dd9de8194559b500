// Package project creates and inspects TinyBase project folders.
package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/config"
	pysdk "github.com/tinybase/tinybase/pkg/sdk/python"
	"github.com/tinybase/tinybase/pkg/store"
	"github.com/tinybase/tinybase/pkg/users"
)

// InitOptions configures Init.
type InitOptions struct {
	Dir           string
	AdminEmail    string
	AdminPassword string
	// Force re-runs init on an initialised folder. It never deletes data:
	// secrets, database, users and function files are kept; the SDK copy
	// is refreshed and missing pieces are created.
	Force bool
	// Out receives one line per step for the person running init.
	Out io.Writer
}

// ErrAlreadyInitialised means Init found an existing project.
var ErrAlreadyInitialised = errors.New("already initialised")

// Init creates a project: tinybase.toml, .tinybase/ with generated secrets,
// the migrated database, the admin account and functions/ with the Python
// SDK and an example function.
func Init(ctx context.Context, o InitOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	tomlPath := filepath.Join(dir, config.FileName)
	stateDir := filepath.Join(dir, config.StateDir)
	_, tomlErr := os.Stat(tomlPath)
	_, secErr := os.Stat(filepath.Join(stateDir, config.SecretsFile))
	if (tomlErr == nil || secErr == nil) && !o.Force {
		return fmt.Errorf("%s is %w (found %s); run with --force to complete or refresh it — no data is deleted",
			dir, ErrAlreadyInitialised, existing(tomlErr == nil, secErr == nil))
	}
	if (o.AdminEmail == "") != (o.AdminPassword == "") {
		return errors.New("give both --admin-email and --admin-password, or neither")
	}
	// Check the admin's details before anything is written, so bad input
	// leaves no half-made project behind.
	if o.AdminEmail != "" {
		if _, err := users.NormalizeEmail(o.AdminEmail); err != nil {
			return fmt.Errorf("--admin-email %q: %w", o.AdminEmail, err)
		}
		if err := users.CheckPassword(o.AdminPassword); err != nil {
			return fmt.Errorf("--admin-password: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}

	if tomlErr != nil {
		if err := os.WriteFile(tomlPath, []byte(defaultTOML), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", tomlPath, err)
		}
		fmt.Fprintf(out, "created %s\n", config.FileName)
	}
	cfg, err := config.Load(dir, os.Environ())
	if err != nil {
		return err
	}
	if !cfg.Secrets.Present() {
		sec, err := config.GenerateSecrets()
		if err != nil {
			return err
		}
		if err := config.WriteSecrets(stateDir, sec); err != nil {
			return err
		}
		cfg.Secrets = sec
		fmt.Fprintf(out, "created %s/%s (mode 0600)\n", config.StateDir, config.SecretsFile)
	}
	if err := os.Chmod(stateDir, 0o700); err != nil {
		return err
	}

	dbPath, err := cfg.DatabasePath()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(out, "database %s ready (schema version %d)\n", rel(dir, dbPath), v)

	if o.AdminEmail != "" {
		svc := users.NewService(db, auth.NewHasher(cfg.Auth.BcryptCost, cfg.Auth.HashConcurrency))
		u, created, err := svc.EnsureAdmin(ctx, o.AdminEmail, o.AdminPassword)
		if err != nil {
			return fmt.Errorf("admin account: %w", err)
		}
		if created {
			fmt.Fprintf(out, "created admin %s\n", u.Email)
		} else {
			fmt.Fprintf(out, "updated admin %s (password reset, admin role granted)\n", u.Email)
		}
	} else {
		fmt.Fprintln(out, "no admin account created (pass --admin-email and --admin-password)")
	}

	fnDir := cfg.FunctionsDir()
	if err := os.MkdirAll(fnDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", fnDir, err)
	}
	if err := pysdk.Install(fnDir); err != nil {
		return fmt.Errorf("install python sdk: %w", err)
	}
	hello := filepath.Join(fnDir, "hello.py")
	if _, err := os.Stat(hello); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(hello, pysdk.HelloExample(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", hello, err)
		}
		fmt.Fprintf(out, "created %s\n", rel(dir, hello))
	}
	gi := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(gi); errors.Is(err, os.ErrNotExist) {
		_ = os.WriteFile(gi, []byte(".tinybase/\ntinybase.db\ntinybase.db-*\n__pycache__/\n"), 0o644)
	}
	return nil
}

func existing(toml, secrets bool) string {
	var parts []string
	if toml {
		parts = append(parts, config.FileName)
	}
	if secrets {
		parts = append(parts, config.StateDir+"/"+config.SecretsFile)
	}
	return strings.Join(parts, " and ")
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}

const defaultTOML = `# TinyBase configuration. Environment variables TINYBASE_<SECTION>_<KEY>
# override these values; see docs/configuration.md for every key.
# Secrets (JWT key, bus credentials) live in .tinybase/secrets.json.

[server]
host = "0.0.0.0"
port = 8000
log_level = "info"

[database]
url = "sqlite:///./tinybase.db"

[jwt]
access_token_expire_minutes = 1440
refresh_token_expire_days = 30

[functions]
dir = "./functions"
cold_start_pool_size = 3
cold_start_ttl_seconds = 300
timeout_seconds = 1800

[worker]
count = 2
concurrency = 4

[scheduler]
enabled = true

[cors]
allow_origins = ["*"]

[bus]
# Leave url empty to run the embedded bus with "tinybase serve".
url = ""
host = "127.0.0.1"
port = 4222
`
