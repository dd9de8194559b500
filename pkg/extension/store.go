package extension

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

// Policies for a before-hook that fails (times out, crashes, errors).
const (
	// PolicyClosed refuses the operation (503): the safe default for
	// extensions that validate.
	PolicyClosed = "closed"
	// PolicyOpen lets the operation through as if the hook had passed.
	PolicyOpen = "open"
)

// Manifest is what an extension described at install, kept in the
// database.
type Manifest struct {
	Hooks    []HookSub     `json:"hooks"`
	Settings []SettingSpec `json:"settings"`
	Routes   []RouteSpec   `json:"routes"`
}

// HookSub is one hook an extension wants; Collections limits record hooks.
type HookSub struct {
	Hook        string   `json:"hook"`
	Collections []string `json:"collections,omitempty"`
}

// SettingSpec declares the setting ext.<name>.<Key>.
type SettingSpec struct {
	Key         string          `json:"key"`
	Schema      json.RawMessage `json:"schema"`
	Default     json.RawMessage `json:"default"`
	Description string          `json:"description,omitempty"`
}

// RouteSpec is an HTTP route the extension serves below /api/ext/<name>.
type RouteSpec struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Auth   string `json:"auth"`
}

// Row is an installed extension as stored.
type Row struct {
	ID          string
	Name        string
	Version     string
	Description string
	Author      string
	// Path is the binary, absolute.
	Path string
	// Source is what was installed from (a folder or a binary).
	Source      string
	SHA256      string
	Manifest    Manifest
	IsEnabled   bool
	Policy      string
	InstalledAt string
	UpdatedAt   string
}

// rows reads and writes the extensions table.
type rows struct{ db *store.DB }

const rowColumns = `id, name, version, description, author, path, source, sha256, manifest, is_enabled, policy,
	installed_at, updated_at`

func scanRow(sc store.Scanner) (Row, error) {
	var r Row
	var manifest string
	var enabled int
	err := sc.Scan(&r.ID, &r.Name, &r.Version, &r.Description, &r.Author, &r.Path, &r.Source, &r.SHA256,
		&manifest, &enabled, &r.Policy, &r.InstalledAt, &r.UpdatedAt)
	if err != nil {
		return r, err
	}
	r.IsEnabled = enabled != 0
	if err := json.Unmarshal([]byte(manifest), &r.Manifest); err != nil {
		return r, fmt.Errorf("extension %s: stored manifest: %w", r.Name, err)
	}
	return r, nil
}

func (s rows) list(ctx context.Context) ([]Row, error) {
	out, err := store.Collect(ctx, s.db.R, scanRow, `SELECT `+rowColumns+` FROM extensions ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list extensions: %w", err)
	}
	return out, nil
}

func (s rows) get(ctx context.Context, name string) (Row, error) {
	r, err := scanRow(s.db.R.QueryRowContext(ctx, `SELECT `+rowColumns+` FROM extensions WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, fmt.Errorf("get extension %s: %w", name, err)
	}
	return r, nil
}

func (s rows) insert(ctx context.Context, r *Row) error {
	manifest, err := json.Marshal(r.Manifest)
	if err != nil {
		return err
	}
	r.ID = uuid.NewString()
	r.InstalledAt = store.Now()
	r.UpdatedAt = r.InstalledAt
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO extensions (`+rowColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			r.ID, r.Name, r.Version, r.Description, r.Author, r.Path, r.Source, r.SHA256, string(manifest),
			boolInt(r.IsEnabled), r.Policy, r.InstalledAt, r.UpdatedAt)
		return err
	})
	if _, dup := store.UniqueViolation(err); dup {
		return &ExistsError{Name: r.Name}
	}
	return err
}

// update sets is_enabled and policy (when non-nil) and bumps updated_at.
func (s rows) update(ctx context.Context, name string, enabled *bool, policy *string) (Row, error) {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE extensions SET
			is_enabled = COALESCE(?, is_enabled), policy = COALESCE(?, policy), updated_at = ? WHERE name = ?`,
			nullBool(enabled), nullString(policy), store.Now(), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return Row{}, err
	}
	return s.get(ctx, name)
}

func (s rows) delete(ctx context.Context, name string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM extensions WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullBool(b *bool) any {
	if b == nil {
		return nil
	}
	return boolInt(*b)
}

func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
