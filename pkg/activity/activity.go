// Package activity keeps the activity log: what happened in the instance
// (records written, users signing in, function calls, schedule fires,
// settings changes, workers coming and going), who caused it and when.
//
// Appending never waits for the database. Append puts the entry in an
// in-memory queue and returns; one goroutine writes queued entries in
// batches through the store's group-commit writer. An entry Append
// accepted (returned nil) is written unless the process dies first: Close
// writes everything still queued before it returns, and a failed write is
// retried. What the log cannot promise is survival of a crash (kill -9,
// power loss) between Append and the next batch commit, at most about
// CoalesceDelay later; the event itself (a record write, a call) is
// durable on its own, the log entry about it is not.
package activity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// Limits of the write queue.
const (
	// MaxPending is how many entries may wait for the database. Past it
	// Append refuses with ErrQueueFull rather than grow without bound.
	MaxPending = 100_000
	// batchSize is how many entries one write transaction carries.
	batchSize = 500
	// retryDelay is the pause before a failed batch is written again.
	retryDelay = 500 * time.Millisecond
	// CoalesceDelay is how long the writer lets entries gather after the
	// first one arrives. Every commit costs an fsync and CPU that the
	// requests being logged compete for; a call or a record write would
	// otherwise pay for its own log entry's commit.
	CoalesceDelay = 50 * time.Millisecond
)

// Entry is one line of the activity log.
type Entry struct {
	ID int64 `json:"id"`
	// At is when it happened, RFC 3339 UTC with microseconds.
	At   string `json:"at"`
	Kind string `json:"kind"`
	// ActorID is the user who caused it; nil for the system.
	ActorID *string `json:"actor_id"`
	// Subject is what it happened to: "<collection>/<record id>", a
	// function name, a schedule id, a setting key, ….
	Subject string `json:"subject"`
	Message string `json:"message"`
	// Data holds the entry's details as a JSON object.
	Data json.RawMessage `json:"data"`
}

// New is an entry to append.
type New struct {
	// At defaults to the time of Append.
	At      time.Time
	Kind    string
	ActorID string // "" for the system
	Subject string
	Message string
	Data    map[string]any
}

var kindRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// ValidKind reports whether kind may name an entry: lower-case letters,
// digits, '.', '_' and '-', up to 128 characters.
func ValidKind(kind string) bool { return kindRE.MatchString(kind) }

// Log is the activity log over one database.
type Log struct {
	db  *store.DB
	log *slog.Logger
	hub hub

	mu      sync.Mutex
	pending []Entry
	closed  bool
	wake    chan struct{}
	stop    chan struct{} // closed by Close: write what is queued now
	hurry   chan struct{} // a reader waits: write what is queued now
	done    chan struct{}
	// accepted and written count entries; written chan is closed and
	// replaced after each batch (see flush).
	accepted, written uint64
	batchDone         chan struct{}
	dropped           uint64
}

// Open starts the log's writer goroutine; Close stops it.
func Open(db *store.DB, log *slog.Logger) *Log {
	if log == nil {
		log = slog.Default()
	}
	l := &Log{db: db, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		hurry: make(chan struct{}, 1), done: make(chan struct{}), batchDone: make(chan struct{})}
	go l.run()
	return l
}

// Append queues an entry and returns at once. The entry reaches the
// database, and then the subscribers, with the next batch.
func (l *Log) Append(n New) error {
	if !ValidKind(n.Kind) {
		return fmt.Errorf("%w: kind %q", ErrInvalidEntry, n.Kind)
	}
	at := n.At
	if at.IsZero() {
		at = time.Now()
	}
	data := []byte("{}")
	if len(n.Data) > 0 {
		b, err := json.Marshal(n.Data)
		if err != nil {
			return fmt.Errorf("%w: data: %w", ErrInvalidEntry, err)
		}
		data = b
	}
	e := Entry{At: store.FormatTime(at), Kind: n.Kind, Subject: n.Subject, Message: n.Message, Data: data}
	if n.ActorID != "" {
		a := n.ActorID
		e.ActorID = &a
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case len(l.pending) >= MaxPending:
		l.dropped++
		dropped := l.dropped
		l.mu.Unlock()
		if dropped == 1 || dropped%10_000 == 0 {
			l.log.Warn("activity queue full; entries refused", "refused", dropped)
		}
		return ErrQueueFull
	}
	l.pending = append(l.pending, e)
	l.accepted++
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// flush waits, up to ctx's end, until every entry accepted so far is
// written, so a reader sees what happened just before it asked.
func (l *Log) flush(ctx context.Context) {
	l.mu.Lock()
	target := l.accepted
	l.mu.Unlock()
	for {
		l.mu.Lock()
		done, next := l.written >= target, l.batchDone
		l.mu.Unlock()
		if done {
			return
		}
		select {
		case l.hurry <- struct{}{}:
		default:
		}
		select {
		case <-next:
		case <-ctx.Done():
			return
		case <-l.done:
			return
		}
	}
}

// Pending returns how many accepted entries are not written yet.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Close writes every queued entry, stops the writer and ends every
// subscription. Entries appended afterwards are refused with ErrClosed.
// It is safe to call twice.
func (l *Log) Close() {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if !already {
		close(l.stop)
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	<-l.done
	l.hub.close()
}

// run is the writer goroutine: it takes what is queued and writes it.
func (l *Log) run() {
	defer close(l.done)
	gather := time.NewTimer(CoalesceDelay)
	gather.Stop()
	for {
		<-l.wake
		if l.Pending() < batchSize {
			gather.Reset(CoalesceDelay)
			select {
			case <-gather.C:
			case <-l.hurry:
				gather.Stop()
			case <-l.stop:
				gather.Stop()
			}
		}
		for {
			l.mu.Lock()
			n := min(len(l.pending), batchSize)
			batch := l.pending[:n:n]
			closed := l.closed
			l.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			if err := l.write(batch); err != nil {
				if closed {
					l.log.Error("activity entries lost at shutdown", "entries", l.Pending(), "error", err)
					return
				}
				l.log.Warn("write activity entries failed; will retry", "entries", n, "error", err)
				time.Sleep(retryDelay)
				continue
			}
			l.mu.Lock()
			l.pending = l.pending[n:]
			if len(l.pending) == 0 {
				l.pending = nil // let a large burst's array go
			}
			l.written += uint64(n)
			close(l.batchDone)
			l.batchDone = make(chan struct{})
			l.mu.Unlock()
		}
	}
}

// write inserts a batch in one transaction and, once it committed, tells
// the subscribers in commit order.
func (l *Log) write(batch []Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	written := make([]Entry, len(batch))
	return l.db.TxThen(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO activity (at, kind, actor_id, subject, message, data)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, e := range batch {
			if err := stmt.QueryRowContext(ctx, e.At, e.Kind, e.ActorID, e.Subject, e.Message,
				string(e.Data)).Scan(&e.ID); err != nil {
				return fmt.Errorf("insert activity: %w", err)
			}
			written[i] = e
		}
		return nil
	}, func() { l.hub.publish(written) })
}
