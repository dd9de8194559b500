// Package store opens the TinyBase SQLite database and keeps its schema current.
//
// SQLite allows one writer at a time, so the store keeps two pools: W, a single
// connection that every write goes through (no SQLITE_BUSY between our own
// writers), and R, a pool of read connections that WAL mode lets run beside it.
// Only the api role opens the database.
//
// Write transactions (Tx, TxThen) go through a group-commit writer: one
// goroutine takes the write connection, runs every transaction queued at that
// moment in a savepoint of one SQLite transaction, and commits them together.
// The write connection runs with synchronous=FULL, so each commit fsyncs the
// WAL before any caller in it is answered: an acknowledged write survives a
// crash of the process, the OS or the machine. Group commit pays that fsync
// once per batch instead of once per write.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" database/sql driver
)

// DB is an open TinyBase database.
type DB struct {
	// W is the write pool: exactly one connection, transactions start
	// IMMEDIATE. Prefer Tx: a statement run on W directly waits for the
	// connection between group commits and commits on its own.
	W *sql.DB
	// R is the read pool.
	R *sql.DB

	path string
	w    *writer
}

// Open opens (creating if needed) the database file at path and applies any
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	dsn := func(extra, sync string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(wal)")
		q.Add("_pragma", "synchronous("+sync+")")
		// ANALYZE (run by PRAGMA optimize) samples at most this many rows
		// per index, so statistics stay cheap on large tables.
		q.Add("_pragma", "analysis_limit(1000)")
		q.Set("_txlock", "immediate")
		s := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
		if extra != "" {
			s += "&" + extra
		}
		return s
	}
	// Durability is decided by the connection that commits: FULL on the
	// write connection. Readers never commit, so NORMAL is enough there.
	w, err := sql.Open("sqlite3", dsn("", "full"))
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
	// Only the api's user may read the data (password hashes among it);
	// SQLite gives the -wal and -shm files the database file's mode.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.Close()
			return nil, fmt.Errorf("restrict database %s: %w", p, err)
		}
	}
	db := &DB{W: w, path: path, w: newWriter(w, slog.Default().With("component", "store"))}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Statistics for tables that never had any, or changed a lot since.
	if _, err := w.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		db.Close()
		return nil, fmt.Errorf("optimize database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite3", dsn("mode=ro", "normal"))
	if err != nil {
		db.Close()
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

// Close stops the writer (the batch in progress commits; queued
// transactions fail with ErrClosed) and closes both pools. It is safe to
// call more than once.
func (db *DB) Close() error {
	if db.w != nil {
		db.w.stop()
	}
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

// Tx runs fn in a write transaction and returns once the transaction has
// committed (nil) or been rolled back (fn's error, or the commit's). fn may
// run in the same SQLite transaction as other callers' fn, inside a
// savepoint: it must use only tx, must return the errors it gets from tx,
// and must not COMMIT or ROLLBACK itself. fn may run more than once if the
// batch it was in could not commit, so it must not have effects outside tx
// that it cannot repeat.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.w.submit(ctx, fn, nil)
}

// TxThen is Tx with a hook: committed runs after the commit, before TxThen
// returns, on the writer goroutine and in commit order, which makes it the
// place to publish events that must come out in the order of the writes.
// committed must be quick and must not block.
func (db *DB) TxThen(ctx context.Context, fn func(tx *sql.Tx) error, committed func()) error {
	return db.w.submit(ctx, fn, committed)
}

// WriterStats counts the writer's work since the database was opened.
type WriterStats struct {
	// Commits is the number of SQLite transactions committed or attempted.
	Commits uint64
	// Transactions is the number of Tx calls they carried.
	Transactions uint64
	// Retries counts Tx calls run again alone because the batch they were
	// in could not commit.
	Retries uint64
}

// WriterStats reports how many Tx calls the writer ran in how many commits.
func (db *DB) WriterStats() WriterStats {
	return WriterStats{Commits: db.w.batches.Load(), Transactions: db.w.txs.Load(), Retries: db.w.retries.Load()}
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
