package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.W.Exec(`CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func count(t *testing.T, db *DB, where string) int {
	t.Helper()
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM t WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// holdWriter occupies the writer with a transaction that waits until n
// more are queued, so that those n are then committed as one batch.
func holdWriter(t *testing.T, db *DB, n int) <-chan error {
	t.Helper()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Tx(context.Background(), func(tx *sql.Tx) error {
			close(started)
			deadline := time.Now().Add(10 * time.Second)
			for len(db.w.jobs) < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
	}()
	<-started
	return done
}

func insert(n int) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO t (n, v) VALUES (?, 'x')`, n)
		return err
	}
}

func TestWriteConnectionIsFullySynchronous(t *testing.T) {
	db := openTest(t)
	var mode int
	if err := db.W.QueryRow(`PRAGMA synchronous`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("synchronous = %d, %v; want 2 (FULL)", mode, err)
	}
	var journal string
	if err := db.W.QueryRow(`PRAGMA journal_mode`).Scan(&journal); err != nil || journal != "wal" {
		t.Fatalf("journal_mode = %q, %v", journal, err)
	}
}

func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := openTest(t)
	const n = 40
	if err := db.Tx(context.Background(), insert(1000)); err != nil {
		t.Fatal(err)
	}
	before := db.WriterStats()
	hold := holdWriter(t, db, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 1: // writes, then fails: its row must not survive
				errs[i] = db.Tx(context.Background(), func(tx *sql.Tx) error {
					if err := insert(i)(tx); err != nil {
						return err
					}
					return fmt.Errorf("job %d refuses", i)
				})
			case 2: // violates the primary key
				errs[i] = db.Tx(context.Background(), insert(1000))
			case 3: // panics after writing
				errs[i] = db.Tx(context.Background(), func(tx *sql.Tx) error {
					_ = insert(i)(tx)
					panic("boom")
				})
			default:
				errs[i] = db.Tx(context.Background(), insert(i))
			}
		}()
	}
	wg.Wait()
	if err := <-hold; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if (i%4 == 0) != (err == nil) {
			t.Errorf("job %d (kind %d): error %v", i, i%4, err)
		}
	}
	if got := count(t, db, "n < 1000"); got != n/4 {
		t.Fatalf("rows = %d, want %d", got, n/4)
	}
	if got := count(t, db, "n % 4 != 0 AND n != 1000"); got != 0 {
		t.Fatalf("rows of failed jobs = %d", got)
	}
	st := db.WriterStats()
	if commits, txs := st.Commits-before.Commits, st.Transactions-before.Transactions; txs != n+1 || commits > 3 {
		t.Fatalf("%d transactions in %d commits; want %d in at most 3", txs, commits, n+1)
	}
}

func TestInterruptedJobDoesNotLoseOthers(t *testing.T) {
	db := openTest(t)
	hold := holdWriter(t, db, 3)
	var wg sync.WaitGroup
	var errA, errB, errC error
	wg.Add(3)
	go func() { defer wg.Done(); errA = db.Tx(context.Background(), insert(1)) }()
	time.Sleep(20 * time.Millisecond) // queue order: A, B, C
	go func() {
		defer wg.Done()
		// An INSERT interrupted by its context makes SQLite roll back the
		// whole transaction, including A's row.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		errB = db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t (n, v)
				WITH RECURSIVE c(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM c WHERE i < 100000000)
				SELECT i, 'y' FROM c`)
			return err
		})
	}()
	time.Sleep(20 * time.Millisecond)
	go func() { defer wg.Done(); errC = db.Tx(context.Background(), insert(2)) }()
	wg.Wait()
	if err := <-hold; err != nil {
		t.Fatal(err)
	}
	if errA != nil || errC != nil || errB == nil {
		t.Fatalf("errors: A %v, B %v, C %v", errA, errB, errC)
	}
	if got := count(t, db, "1"); got != 2 {
		t.Fatalf("rows = %d, want 2", got)
	}
	if st := db.WriterStats(); st.Retries < 2 {
		t.Fatalf("stats %+v: A and C were not run again alone", st)
	}
}

func TestCancelledBeforeStartIsSkipped(t *testing.T) {
	db := openTest(t)
	release := make(chan struct{})
	started := make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.Tx(context.Background(), func(tx *sql.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- db.Tx(ctx, insert(1)) }()
	for len(db.w.jobs) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	if got := count(t, db, "1"); got != 0 {
		t.Fatalf("rows = %d", got)
	}
}

func TestAfterCommitHooksRunInCommitOrder(t *testing.T) {
	db := openTest(t)
	var mu sync.Mutex
	var order []int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var id int64
			err := db.TxThen(context.Background(), func(tx *sql.Tx) error {
				return tx.QueryRow(`INSERT INTO t (v) VALUES ('h') RETURNING n`).Scan(&id)
			}, func() {
				mu.Lock()
				order = append(order, id)
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(order) != 50 || !slices.IsSorted(order) {
		t.Fatalf("hooks ran in order %v", order)
	}
}

func TestTxAfterClose(t *testing.T) {
	db := openTest(t)
	db.Close()
	if err := db.Tx(context.Background(), insert(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("error = %v", err)
	}
	db.Close()
}

func TestUniqueViolation(t *testing.T) {
	db := openTest(t)
	if _, err := db.W.Exec(`CREATE UNIQUE INDEX t_v ON t (lower(v))`); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(context.Background(), insert(1)); err != nil {
		t.Fatal(err)
	}
	err := db.Tx(context.Background(), insert(2))
	if idx, ok := UniqueViolation(err); !ok || idx != "t_v" {
		t.Fatalf("UniqueViolation(%v) = %q, %v", err, idx, ok)
	}
	if _, ok := UniqueViolation(errors.New("x")); ok {
		t.Fatal("plain error taken for a unique violation")
	}
}

// BenchmarkTxParallel measures single-row write transactions from many
// goroutines through the group-commit writer.
func BenchmarkTxParallel(b *testing.B) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.W.Exec(`CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.Tx(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec(`INSERT INTO t (v) VALUES ('x')`)
				return err
			}); err != nil {
				b.Error(err)
			}
		}
	})
}
