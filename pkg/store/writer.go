package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
)

// maxBatch caps how many write transactions share one commit. Larger
// batches amortise the commit's fsync further but make every caller in the
// batch wait for the slowest transaction in it.
const maxBatch = 128

// optimizeEvery is how many write transactions pass between two runs of
// PRAGMA optimize, which refreshes the query planner's statistics of tables
// whose size changed a lot (bounded by analysis_limit, so it stays cheap).
const optimizeEvery = 10_000

// writeJob is one caller's write transaction waiting for the writer.
type writeJob struct {
	ctx       context.Context
	fn        func(tx *sql.Tx) error
	committed func()
	done      chan error
}

// writer is the group-commit writer. One goroutine owns the write
// connection: it takes every transaction that is queued when it becomes
// free, runs each inside its own savepoint of one SQLite transaction, and
// commits them together, so N concurrent writers cost one commit (and one
// fsync) instead of N. A transaction that fails is rolled back to its
// savepoint alone; the others in the batch still commit. Callers are
// answered only after the commit that holds their transaction returned.
type writer struct {
	db   *sql.DB
	log  *slog.Logger
	jobs chan *writeJob
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	// mu guards closed: submit holds it for reading while it queues, so
	// that once stop has set closed, nothing new can enter the queue.
	mu     sync.RWMutex
	closed bool

	batches atomic.Uint64
	txs     atomic.Uint64
	retries atomic.Uint64
}

func newWriter(db *sql.DB, log *slog.Logger) *writer {
	w := &writer{db: db, log: log, jobs: make(chan *writeJob, 4*maxBatch), quit: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.loop()
	}()
	return w
}

// stop finishes the batch in progress, fails every queued transaction with
// ErrClosed and waits for the writer goroutine. It is safe to call twice.
func (w *writer) stop() {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
	})
	w.wg.Wait()
}

// submit queues fn and waits for its outcome. It waits even when ctx ends
// while fn is queued or running: only the writer knows whether fn was
// committed, and a caller must never be told "failed" for a write that
// committed. A job whose ctx ended before it started is skipped.
func (w *writer) submit(ctx context.Context, fn func(tx *sql.Tx) error, committed func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &writeJob{ctx: ctx, fn: fn, committed: committed, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.jobs <- j:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	return <-j.done
}

func (w *writer) loop() {
	batch := make([]*writeJob, 0, maxBatch)
	sinceOptimize := 0
	for {
		select {
		case j := <-w.jobs:
			batch = append(batch[:0], j)
		case <-w.quit:
			w.drain()
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		w.batches.Add(1)
		w.txs.Add(uint64(len(batch)))
		if len(batch) == 1 {
			w.runSolo(batch[0])
		} else {
			w.runBatch(batch)
		}
		sinceOptimize += len(batch)
		clear(batch)
		if sinceOptimize >= optimizeEvery {
			sinceOptimize = 0
			w.optimize()
		}
	}
}

// optimize runs PRAGMA optimize between batches.
func (w *writer) optimize() {
	if _, err := w.db.ExecContext(context.Background(), `PRAGMA optimize`); err != nil {
		w.log.Warn("optimize statistics", "error", err)
	}
}

// drain fails the jobs still queued at shutdown.
func (w *writer) drain() {
	for {
		select {
		case j := <-w.jobs:
			j.done <- ErrClosed
		default:
			return
		}
	}
}

// runSolo runs one job in a transaction of its own.
func (w *writer) runSolo(j *writeJob) {
	if err := j.ctx.Err(); err != nil {
		j.done <- err
		return
	}
	tx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		j.done <- fmt.Errorf("begin transaction: %w", err)
		return
	}
	if err := call(j.fn, tx); err != nil {
		_ = tx.Rollback()
		j.done <- err
		return
	}
	if err := tx.Commit(); err != nil {
		j.done <- fmt.Errorf("commit: %w", err)
		return
	}
	w.finish(j)
}

// runBatch runs several jobs in one transaction, each in a savepoint, and
// then runs alone those whose work the batch could not commit.
func (w *writer) runBatch(batch []*writeJob) {
	committed, retry := w.tryBatch(batch)
	for _, j := range committed {
		w.finish(j)
	}
	w.retries.Add(uint64(len(retry)))
	for _, j := range retry {
		w.runSolo(j)
	}
}

// tryBatch runs the batch on the write connection and releases the
// connection before returning. It answers the jobs that failed on their
// own and returns those that committed and those to run again alone.
func (w *writer) tryBatch(batch []*writeJob) (committed, retry []*writeJob) {
	ctx := context.Background()
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, batch
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, batch
	}
	ok := make([]*writeJob, 0, len(batch))
	// abandon rolls the batch back: the work of the jobs that succeeded so
	// far is lost, so they are run again, as are those not yet started.
	abandon := func(rest []*writeJob, cause error) ([]*writeJob, []*writeJob) {
		_ = tx.Rollback()
		if cause != nil {
			w.log.Warn("group commit abandoned; retrying its transactions one by one", "error", cause)
		}
		return nil, append(ok, rest...)
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT tb_job`); err != nil {
			return abandon(batch[i:], fmt.Errorf("savepoint: %w", err))
		}
		ferr := call(j.fn, tx)
		// Some errors (an interrupt from the caller's context, I/O errors,
		// a full disk) make SQLite roll back the whole transaction, taking
		// the earlier jobs' work with it.
		if !inTransaction(conn) {
			if ferr == nil {
				ferr = errors.New("write transaction was rolled back by sqlite")
			}
			j.done <- ferr
			return abandon(batch[i+1:], nil)
		}
		if ferr != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO tb_job; RELEASE tb_job`); err != nil {
				j.done <- ferr
				return abandon(batch[i+1:], fmt.Errorf("rollback to savepoint: %w", err))
			}
			j.done <- ferr
			continue
		}
		if _, err := tx.ExecContext(ctx, `RELEASE tb_job`); err != nil {
			return abandon(batch[i:], fmt.Errorf("release savepoint: %w", err))
		}
		ok = append(ok, j)
	}
	if err := tx.Commit(); err != nil {
		w.log.Warn("group commit failed; retrying its transactions one by one", "transactions", len(ok), "error", err)
		return nil, ok
	}
	return ok, nil
}

// finish runs the job's after-commit hook, then answers its caller.
func (w *writer) finish(j *writeJob) {
	if j.committed != nil {
		func() {
			defer func() {
				if p := recover(); p != nil {
					w.log.Error("after-commit hook panicked", "panic", p, "stack", string(debug.Stack()))
				}
			}()
			j.committed()
		}()
	}
	j.done <- nil
}

// call runs fn and turns a panic into an error, so one bad transaction
// cannot take the writer (and every other caller) down with it.
func call(fn func(tx *sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write transaction panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}

// inTransaction reports whether the connection still has its transaction
// open.
func inTransaction(conn *sql.Conn) bool {
	open := true
	_ = conn.Raw(func(dc any) error {
		if c, ok := dc.(interface{ Raw() *sqlite3.Conn }); ok {
			open = !c.Raw().GetAutocommit()
		}
		return nil
	})
	return open
}
