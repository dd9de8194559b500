// Package versions keeps the history of every function file: one row per
// content change, whoever made it (an upload through the API or an edit in
// the functions folder). The content itself is kept in the bus object
// store, so any version can be restored.
package versions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

// ErrNotFound means no version matches.
var ErrNotFound = errors.New("function version not found")

// Version is one deployed content of a function file.
type Version struct {
	ID               string  `json:"id"`
	FunctionName     string  `json:"function_name"`
	FileName         string  `json:"file_name"`
	ContentHash      string  `json:"content_hash"`
	FileSize         int64   `json:"file_size"`
	DeployedByUserID *string `json:"deployed_by_user_id"`
	DeployedByEmail  *string `json:"deployed_by_email"`
	DeployedAt       string  `json:"deployed_at"`
	Notes            *string `json:"notes"`
	ExecutionCount   int     `json:"execution_count"`
}

// NewVersion describes a content change.
type NewVersion struct {
	FunctionName string
	FileName     string
	ContentHash  string
	FileSize     int64
	DeployedBy   *string
	Notes        *string
}

// Store reads and writes the function_versions table.
type Store struct{ db *store.DB }

// New returns a Store over db.
func New(db *store.DB) *Store { return &Store{db: db} }

const columns = `v.id, v.function_name, v.file_name, v.content_hash, v.file_size, v.deployed_by_user_id,
	u.email, v.deployed_at, v.notes,
	(SELECT COUNT(*) FROM function_calls c WHERE c.version_id = v.id)`

const from = ` FROM function_versions v LEFT JOIN users u ON u.id = v.deployed_by_user_id `

func scan(r interface{ Scan(...any) error }) (Version, error) {
	var v Version
	err := r.Scan(&v.ID, &v.FunctionName, &v.FileName, &v.ContentHash, &v.FileSize, &v.DeployedByUserID,
		&v.DeployedByEmail, &v.DeployedAt, &v.Notes, &v.ExecutionCount)
	return v, err
}

// Record stores nv as the file's newest version, unless the newest version
// already has the same content; created says which happened.
func (s *Store) Record(ctx context.Context, nv NewVersion) (Version, bool, error) {
	var out Version
	created := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, hash string
		err := tx.QueryRowContext(ctx, `SELECT id, content_hash FROM function_versions WHERE file_name = ?
			ORDER BY deployed_at DESC, rowid DESC LIMIT 1`, nv.FileName).Scan(&id, &hash)
		if err == nil && hash == nv.ContentHash {
			out.ID = id
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		out.ID = uuid.NewString()
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO function_versions (id, function_name, file_name, content_hash,
			file_size, deployed_by_user_id, deployed_at, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			out.ID, nv.FunctionName, nv.FileName, nv.ContentHash, nv.FileSize, nv.DeployedBy, store.Now(), nv.Notes)
		return err
	})
	if err != nil {
		return Version{}, false, fmt.Errorf("record function version: %w", err)
	}
	v, err := s.Get(ctx, out.ID)
	return v, created, err
}

// Get returns a version by id.
func (s *Store) Get(ctx context.Context, id string) (Version, error) {
	v, err := scan(s.db.W.QueryRowContext(ctx, `SELECT `+columns+from+`WHERE v.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, ErrNotFound
	}
	return v, err
}

// ByHash returns the newest version of file with the given content hash.
func (s *Store) ByHash(ctx context.Context, file, hash string) (Version, error) {
	v, err := scan(s.db.R.QueryRowContext(ctx, `SELECT `+columns+from+`WHERE v.file_name = ? AND v.content_hash = ?
		ORDER BY v.deployed_at DESC, v.rowid DESC LIMIT 1`, file, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, ErrNotFound
	}
	return v, err
}

// List returns the versions of a function, newest first: those of the
// file that holds it now and those recorded under its name (from a file it
// lived in before).
func (s *Store) List(ctx context.Context, name, file string, limit int) ([]Version, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+columns+from+`WHERE v.file_name = ? OR v.function_name = ?
		ORDER BY v.deployed_at DESC, v.rowid DESC LIMIT ?`, file, name, limit)
	if err != nil {
		return nil, fmt.Errorf("list function versions: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
