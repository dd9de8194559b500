// Package store opens the TinyBase SQLite database and keeps its schema current.
//
// SQLite allows one writer at a time, so the store keeps two pools: W, a single
// connection that every write goes through (no SQLITE_BUSY between our own
// writers), and R, a pool of read connections that WAL mode lets run beside it.
// Only the api role opens the database.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" database/sql driver
)

// DB is an open TinyBase database.
type DB struct {
	// W is the write pool: exactly one connection, transactions start IMMEDIATE.
	W *sql.DB
	// R is the read pool.
	R *sql.DB

	path string
}

// Open opens (creating if needed) the database file at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(wal)")
		q.Add("_pragma", "synchronous(normal)")
		q.Set("_txlock", "immediate")
		s := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
		if extra != "" {
			s += "&" + extra
		}
		return s
	}
	w, err := sql.Open("sqlite3", dsn(""))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{W: w, path: path}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", dsn("mode=ro"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.R = r
	return db, nil
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Close closes both pools. It is safe to call more than once.
func (db *DB) Close() error {
	var err error
	if db.R != nil {
		err = db.R.Close()
	}
	if db.W != nil {
		if werr := db.W.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// Tx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Now returns the current time in the storage format: RFC 3339, UTC,
// microsecond precision. Strings in this format sort chronologically.
func Now() string { return FormatTime(time.Now()) }

// FormatTime formats t in the storage format.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

// TimeFormat is the layout of every timestamp TinyBase stores and serves.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"
