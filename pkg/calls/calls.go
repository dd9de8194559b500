// Package calls keeps the record of function calls (the function_calls
// table). The api records a call when it accepts one and completes it from
// the worker's result event; nothing here runs functions or talks to the bus.
package calls

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ncruces/go-sqlite3"

	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/store"
)

// Call statuses, as in the reference TinyBase. A call is running from the
// moment it is accepted until its outcome is recorded.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Trigger types: a call requested over the API, or fired by a schedule.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
)

// List limits, as in the reference's admin call listing.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// MaxStderrBytes is how much of a call's stderr is kept: the last 64 KiB,
// since the end of the output (a traceback) is what explains a failure.
const MaxStderrBytes = 64 << 10

// Call is one function invocation. Nullable columns are pointers and are
// encoded as JSON null, as the reference does.
type Call struct {
	ID                string  `json:"id"`
	FunctionName      string  `json:"function_name"`
	Status            string  `json:"status"`
	TriggerType       string  `json:"trigger_type"`
	TriggerID         *string `json:"trigger_id"`
	RequestedByUserID *string `json:"requested_by_user_id"`
	WorkerID          *string `json:"worker_id"`
	Attempts          int     `json:"attempts"`
	StartedAt         *string `json:"started_at"`
	FinishedAt        *string `json:"finished_at"`
	DurationMS        *int64  `json:"duration_ms"`
	ErrorMessage      *string `json:"error_message"`
	ErrorType         *string `json:"error_type"`
	VersionID         *string `json:"version_id"`
	CreatedAt         string  `json:"created_at"`
}

// Detail is a call with what is kept beside it: the tail of its stderr and,
// for calls that asked for it, its result.
type Detail struct {
	Call
	Stderr *string         `json:"stderr"`
	Result json.RawMessage `json:"result"`
}

// NewCall describes a call being accepted.
type NewCall struct {
	// ID is the call id; a new UUID when empty.
	ID           string
	FunctionName string
	// TriggerType is TriggerManual (the default) or TriggerSchedule.
	TriggerType string
	// TriggerID is the schedule id for scheduled calls.
	TriggerID *string
	// RequestedBy is the calling user's id, nil for anonymous and scheduled
	// calls.
	RequestedBy *string
	// VersionID is the function version the call runs.
	VersionID *string
	// KeepResult stores the result with the call, for callers that fetch
	// it later.
	KeepResult bool
	// WorkerID names the worker a call was handed to directly, while it
	// runs; the api uses it after a restart to tell whether the call can
	// still finish.
	WorkerID *string
	// CreatedAt is when the call was accepted; now when zero.
	CreatedAt time.Time
}

// Outcome is a worker's report of how a call ended.
type Outcome struct {
	// Status is StatusSucceeded or StatusFailed.
	Status       string
	ErrorMessage *string
	ErrorType    *string
	DurationMS   int64
	WorkerID     string
	Attempts     int
	// StartedAt is when the function process got the request; the zero time
	// or the Unix epoch leaves started_at null (the call never reached a
	// process).
	StartedAt time.Time
	// FinishedAt defaults to now when it is the zero time or the Unix epoch.
	FinishedAt time.Time
	// Stderr is the process's log output; only its last MaxStderrBytes are
	// kept.
	Stderr string
	// Result is the JSON result; stored only for calls created with
	// KeepResult.
	Result json.RawMessage
	// Origin, when set, describes the call as it was accepted: a call
	// with no record yet is recorded from it, finished. The api writes
	// the record of a short synchronous call only once, with its outcome.
	Origin *NewCall
}

// Filter selects calls for List. Empty strings match everything.
type Filter struct {
	FunctionName string
	Status       string
	TriggerType  string
	// TriggerID narrows to one schedule's runs when set.
	TriggerID string
	// Limit is DefaultListLimit when zero or negative, at most MaxListLimit.
	Limit  int
	Offset int
}

// Calls reads and writes the function_calls table.
type Calls struct {
	db *store.DB
}

// NewCalls returns a Calls over db.
func NewCalls(db *store.DB) *Calls { return &Calls{db: db} }

const callColumns = `id, function_name, status, trigger_type, trigger_id, requested_by_user_id, worker_id,
	attempts, started_at, finished_at, duration_ms, error_message, error_type, version_id, created_at`

type rowScanner = store.Scanner

func scanCall(r rowScanner) (Call, error) {
	var c Call
	err := r.Scan(&c.ID, &c.FunctionName, &c.Status, &c.TriggerType, &c.TriggerID, &c.RequestedByUserID,
		&c.WorkerID, &c.Attempts, &c.StartedAt, &c.FinishedAt, &c.DurationMS, &c.ErrorMessage, &c.ErrorType,
		&c.VersionID, &c.CreatedAt)
	return c, err
}

// Create records an accepted call as running. A call id already recorded is
// ErrCallExists, which lets a redelivered request be recognised; a
// RequestedBy that names no user is ErrUnknownUser.
func (c *Calls) Create(ctx context.Context, nc NewCall) (Call, error) {
	if !functions.ValidName(nc.FunctionName) {
		return Call{}, fmt.Errorf("%w: %q", functions.ErrInvalidName, nc.FunctionName)
	}
	switch nc.TriggerType {
	case "":
		nc.TriggerType = TriggerManual
	case TriggerManual, TriggerSchedule:
	default:
		return Call{}, fmt.Errorf("%w: trigger type %q", ErrInvalidCall, nc.TriggerType)
	}
	if nc.ID == "" {
		nc.ID = uuid.NewString()
	}
	call := Call{
		ID:                nc.ID,
		FunctionName:      nc.FunctionName,
		Status:            StatusRunning,
		TriggerType:       nc.TriggerType,
		TriggerID:         nonEmpty(nc.TriggerID),
		RequestedByUserID: nonEmpty(nc.RequestedBy),
		VersionID:         nonEmpty(nc.VersionID),
		WorkerID:          nonEmpty(nc.WorkerID),
		CreatedAt:         store.Now(),
	}
	if !nc.CreatedAt.IsZero() {
		call.CreatedAt = store.FormatTime(nc.CreatedAt)
	}
	// Through the group-commit writer: concurrent calls share one commit.
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO function_calls
				(id, function_name, status, trigger_type, trigger_id, requested_by_user_id, version_id, keep_result,
				worker_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			call.ID, call.FunctionName, call.Status, call.TriggerType, call.TriggerID, call.RequestedByUserID,
			call.VersionID, nc.KeepResult, call.WorkerID, call.CreatedAt)
		return err
	})
	switch constraintCode(err) {
	case sqlite3.CONSTRAINT_PRIMARYKEY, sqlite3.CONSTRAINT_UNIQUE:
		return Call{}, fmt.Errorf("%w: %s", ErrCallExists, call.ID)
	case sqlite3.CONSTRAINT_FOREIGNKEY:
		return Call{}, ErrUnknownUser
	}
	if err != nil {
		return Call{}, fmt.Errorf("insert function call: %w", err)
	}
	return call, nil
}

// Finish records a call's outcome and returns the stored call. Only a call
// that is still running is updated: result events may be delivered more than
// once, and a duplicate returns the call unchanged with applied false. An
// unknown id is ErrCallNotFound.
func (c *Calls) Finish(ctx context.Context, id string, o Outcome) (Call, bool, error) {
	r := c.FinishAll(ctx, []Finishing{{ID: id, Outcome: o}})[0]
	return r.Call, r.Applied, r.Err
}

// Finishing is one call's outcome for FinishAll.
type Finishing struct {
	ID      string
	Outcome Outcome
}

// Finished is what FinishAll did with one outcome, as Finish reports it.
type Finished struct {
	Call    Call
	Applied bool
	Err     error
}

// FinishAll records several outcomes in one transaction, so they share
// one commit; an outcome that cannot be recorded fails alone.
func (c *Calls) FinishAll(ctx context.Context, items []Finishing) []Finished {
	out := make([]Finished, len(items))
	pending := 0
	for i, it := range items {
		if it.Outcome.Status != StatusSucceeded && it.Outcome.Status != StatusFailed {
			out[i].Err = fmt.Errorf("%w: final status %q", ErrInvalidCall, it.Outcome.Status)
			continue
		}
		pending++
	}
	if pending == 0 {
		return out
	}
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		for i, it := range items {
			if out[i].Err != nil {
				continue
			}
			out[i].Call, out[i].Applied, out[i].Err = finish(ctx, tx, it.ID, it.Outcome)
			if e := out[i].Err; e != nil && !errors.Is(e, ErrCallNotFound) && !errors.Is(e, functions.ErrInvalidName) &&
				constraintCode(e) == 0 {
				return e // the transaction itself is in trouble
			}
		}
		return nil
	})
	for i := range out {
		switch {
		case err != nil && out[i].Err == nil:
			out[i] = Finished{Err: fmt.Errorf("finish function call: %w", err)}
		case out[i].Err != nil && !errors.Is(out[i].Err, ErrCallNotFound) &&
			!errors.Is(out[i].Err, ErrInvalidCall) && !errors.Is(out[i].Err, functions.ErrInvalidName):
			out[i].Err = fmt.Errorf("finish function call: %w", out[i].Err)
		}
	}
	return out
}

// finish records one outcome inside tx; see Finish.
func finish(ctx context.Context, tx *sql.Tx, id string, o Outcome) (Call, bool, error) {
	var startedAt *string
	if !unset(o.StartedAt) {
		s := store.FormatTime(o.StartedAt)
		startedAt = &s
	}
	finishedAt := o.FinishedAt
	if unset(finishedAt) {
		finishedAt = time.Now()
	}
	var workerID, stderr *string
	if o.WorkerID != "" {
		workerID = &o.WorkerID
	}
	if o.Stderr != "" {
		s := tail(o.Stderr, MaxStderrBytes)
		stderr = &s
	}
	call, err := scanCall(tx.QueryRowContext(ctx,
		`UPDATE function_calls SET status = ?, worker_id = ?, attempts = ?, started_at = ?, finished_at = ?,
			duration_ms = ?, error_message = ?, error_type = ?, stderr = ?,
			result = CASE WHEN keep_result = 1 THEN ? ELSE NULL END
		WHERE id = ? AND status = ?
		RETURNING `+callColumns,
		o.Status, workerID, max(o.Attempts, 0), startedAt, store.FormatTime(finishedAt),
		max(o.DurationMS, 0), o.ErrorMessage, o.ErrorType, stderr, nullableJSON(o.Result),
		id, StatusRunning))
	if err == nil {
		return call, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Call{}, false, err
	}
	call, err = scanCall(tx.QueryRowContext(ctx, `SELECT `+callColumns+` FROM function_calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		if o.Origin == nil {
			return Call{}, false, ErrCallNotFound
		}
		call, err = insertFinished(ctx, tx, id, o, startedAt, finishedAt, workerID, stderr)
		return call, err == nil, err
	}
	return call, false, err
}

// Requeued notes that a running call left the worker it was handed to and
// went to the shared queue: it no longer waits on that worker.
func (c *Calls) Requeued(ctx context.Context, id string) error {
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE function_calls SET worker_id = NULL WHERE id = ? AND status = ?`,
			id, StatusRunning)
		return err
	})
}

// insertFinished records a call that has no record yet, with its outcome.
func insertFinished(ctx context.Context, tx *sql.Tx, id string, o Outcome, startedAt *string, finishedAt time.Time,
	workerID, stderr *string) (Call, error) {
	nc := o.Origin
	if !functions.ValidName(nc.FunctionName) {
		return Call{}, fmt.Errorf("%w: %q", functions.ErrInvalidName, nc.FunctionName)
	}
	trigger := nc.TriggerType
	if trigger != TriggerSchedule {
		trigger = TriggerManual
	}
	created := finishedAt
	if !nc.CreatedAt.IsZero() {
		created = nc.CreatedAt
	}
	var result *string
	if nc.KeepResult {
		result = nullableJSON(o.Result)
	}
	insert := func(user *string) (Call, error) {
		return scanCall(tx.QueryRowContext(ctx,
			`INSERT INTO function_calls
				(id, function_name, status, trigger_type, trigger_id, requested_by_user_id, version_id, keep_result,
				worker_id, attempts, started_at, finished_at, duration_ms, error_message, error_type, stderr, result,
				created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING `+callColumns,
			id, nc.FunctionName, o.Status, trigger, nonEmpty(nc.TriggerID), user, nonEmpty(nc.VersionID),
			nc.KeepResult, workerID, max(o.Attempts, 0), startedAt, store.FormatTime(finishedAt),
			max(o.DurationMS, 0), o.ErrorMessage, o.ErrorType, stderr, result, store.FormatTime(created)))
	}
	call, err := insert(nonEmpty(nc.RequestedBy))
	if constraintCode(err) == sqlite3.CONSTRAINT_FOREIGNKEY {
		// The caller's account was deleted while the call ran; the call
		// still happened.
		call, err = insert(nil)
	}
	return call, err
}

// GetDetail returns the call with its kept stderr and result.
func (c *Calls) GetDetail(ctx context.Context, id string) (Detail, error) {
	var d Detail
	var result *string
	row := c.db.R.QueryRowContext(ctx, `SELECT `+callColumns+`, stderr, result FROM function_calls WHERE id = ?`, id)
	err := row.Scan(&d.ID, &d.FunctionName, &d.Status, &d.TriggerType, &d.TriggerID, &d.RequestedByUserID,
		&d.WorkerID, &d.Attempts, &d.StartedAt, &d.FinishedAt, &d.DurationMS, &d.ErrorMessage, &d.ErrorType,
		&d.VersionID, &d.CreatedAt, &d.Stderr, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return Detail{}, ErrCallNotFound
	}
	if err != nil {
		return Detail{}, fmt.Errorf("get function call: %w", err)
	}
	d.Result = json.RawMessage("null")
	if result != nil {
		d.Result = json.RawMessage(*result)
	}
	return d, nil
}

func nullableJSON(raw json.RawMessage) *string {
	if len(raw) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}

// Get returns the call with id, or ErrCallNotFound.
func (c *Calls) Get(ctx context.Context, id string) (Call, error) {
	call, err := scanCall(c.db.R.QueryRowContext(ctx, `SELECT `+callColumns+` FROM function_calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Call{}, ErrCallNotFound
	}
	if err != nil {
		return Call{}, fmt.Errorf("get function call: %w", err)
	}
	return call, nil
}

// List returns one page of the calls matching f, newest first, and how many
// match in all. Count and page come from one read transaction, so they agree.
func (c *Calls) List(ctx context.Context, f Filter) ([]Call, int, error) {
	var (
		where []string
		args  []any
	)
	if f.FunctionName != "" {
		where, args = append(where, "function_name = ?"), append(args, f.FunctionName)
	}
	switch f.Status {
	case "":
	case StatusRunning, StatusSucceeded, StatusFailed:
		where, args = append(where, "status = ?"), append(args, f.Status)
	default:
		return nil, 0, fmt.Errorf("%w: status %q", ErrInvalidCall, f.Status)
	}
	switch f.TriggerType {
	case "":
	case TriggerManual, TriggerSchedule:
		where, args = append(where, "trigger_type = ?"), append(args, f.TriggerType)
	default:
		return nil, 0, fmt.Errorf("%w: trigger type %q", ErrInvalidCall, f.TriggerType)
	}
	if f.TriggerID != "" {
		where, args = append(where, "trigger_id = ?"), append(args, f.TriggerID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	offset := max(f.Offset, 0)

	tx, err := c.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("list function calls: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM function_calls`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count function calls: %w", err)
	}
	calls, err := queryCalls(ctx, tx,
		`SELECT `+callColumns+` FROM function_calls`+cond+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list function calls: %w", err)
	}
	return calls, total, nil
}

// Running returns every call still marked running, oldest first, so that
// after a restart the api can reconcile them with the bus.
func (c *Calls) Running(ctx context.Context) ([]Call, error) {
	calls, err := queryCalls(ctx, c.db.R,
		`SELECT `+callColumns+` FROM function_calls WHERE status = ? ORDER BY created_at, id`, StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("list running function calls: %w", err)
	}
	return calls, nil
}

func queryCalls(ctx context.Context, q store.Querier, query string, args ...any) ([]Call, error) {
	return store.Collect(ctx, q, scanCall, query, args...)
}

// constraintCode returns the SQLite extended code of a constraint error, or
// zero for nil and other errors.
func constraintCode(err error) sqlite3.ExtendedErrorCode {
	var se *sqlite3.Error
	if errors.As(err, &se) && se.Code() == sqlite3.CONSTRAINT {
		return se.ExtendedCode()
	}
	return 0
}

// unset reports whether t is the zero time or the Unix epoch, which is what
// time.UnixMilli gives for a timestamp field missing from a bus message.
func unset(t time.Time) bool { return t.IsZero() || t.UnixNano() == 0 }

// nonEmpty returns nil for a nil or empty string.
func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	v := *s
	return &v
}

// tail returns the last n bytes of s, starting at a character boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[len(s)-n:], "")
}
