// Package schedstore keeps the schedules table. It is apart from package
// schedule so that package scheduler, which computes fire times but never
// opens the database, does not depend on the store or the SQLite driver.
package schedstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/store"
)

// Errors.
var (
	ErrNotFound = errors.New("schedule not found")
	// ErrInPast means a once schedule's moment has passed, so saving it
	// active would never run it. It is also a *schedule.SpecError.
	ErrInPast = errors.New("once schedule is in the past")
)

// List limits, as in the reference.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
	MaxNameLen       = 200
)

// Schedule is one row, in the API's JSON shape. Instants are RFC 3339 UTC.
type Schedule struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	FunctionName    string          `json:"function_name"`
	Schedule        json.RawMessage `json:"schedule"`
	InputData       json.RawMessage `json:"input_data"`
	IsActive        bool            `json:"is_active"`
	LastRunAt       *string         `json:"last_run_at"`
	NextRunAt       *string         `json:"next_run_at"`
	MissedRuns      int             `json:"missed_runs"`
	LastMissedAt    *string         `json:"last_missed_at"`
	CreatedByUserID *string         `json:"created_by_user_id"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	// Revision is raised when the specification or is_active changes.
	Revision int64 `json:"-"`
}

// NextRun returns next_run_at as a time.
func (s Schedule) NextRun() (time.Time, bool) { return parseTime(s.NextRunAt) }

// LastRun returns last_run_at as a time.
func (s Schedule) LastRun() (time.Time, bool) { return parseTime(s.LastRunAt) }

func parseTime(v *string) (time.Time, bool) {
	if v == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	return t, err == nil
}

// New describes a schedule to create.
type New struct {
	Name         string
	FunctionName string
	// Spec is the schedule object; it is stored as given (compacted).
	Spec      json.RawMessage
	InputData json.RawMessage
	IsActive  bool
	CreatedBy string
}

// Patch changes some fields; nil leaves a field as it is.
type Patch struct {
	Name      *string
	Spec      json.RawMessage
	InputData json.RawMessage
	IsActive  *bool
}

// Filter selects schedules for List.
type Filter struct {
	FunctionName string
	IsActive     *bool
	Limit        int
	Offset       int
}

// Store reads and writes the schedules table.
type Store struct {
	db *store.DB
	// now is the clock; tests replace it.
	now func() time.Time
}

// NewStore returns a Store over db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

const columns = `id, name, function_name, schedule, input_data, is_active, last_run_at, next_run_at,
	missed_runs, last_missed_at, created_by_user_id, created_at, updated_at, revision`

type scanner = store.Scanner

func scan(r scanner) (Schedule, error) {
	var s Schedule
	var spec, input string
	err := r.Scan(&s.ID, &s.Name, &s.FunctionName, &spec, &input, &s.IsActive, &s.LastRunAt, &s.NextRunAt,
		&s.MissedRuns, &s.LastMissedAt, &s.CreatedByUserID, &s.CreatedAt, &s.UpdatedAt, &s.Revision)
	s.Schedule, s.InputData = json.RawMessage(spec), json.RawMessage(input)
	return s, err
}

// nextFrom validates spec and returns the first instant after now (nil
// when inactive). An active once schedule in the past is ErrInPast.
func nextFrom(spec json.RawMessage, active bool, now time.Time) (*string, error) {
	sp, err := schedule.Parse(spec)
	if err != nil {
		return nil, err
	}
	next, ok := sp.Next(now)
	if !ok {
		return nil, fmt.Errorf("%w: %w", ErrInPast, &schedule.SpecError{Field: "date",
			Reason: "the once schedule's date and time are in the past"})
	}
	if !active {
		return nil, nil
	}
	v := store.FormatTime(next)
	return &v, nil
}

func compact(raw json.RawMessage, def string) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return def, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Create validates and stores a schedule. Its first instant is computed
// from now when it is active. committed, when set, runs right after the
// commit, in commit order (to publish events).
func (st *Store) Create(ctx context.Context, n New, committed func(Schedule)) (Schedule, error) {
	now := st.now()
	next, err := nextFrom(n.Spec, n.IsActive, now)
	if err != nil {
		return Schedule{}, err
	}
	spec, err := compact(n.Spec, "{}")
	if err != nil {
		return Schedule{}, err
	}
	input, err := compact(n.InputData, "{}")
	if err != nil {
		return Schedule{}, err
	}
	ts := store.FormatTime(now)
	s := Schedule{ID: uuid.NewString(), Name: n.Name, FunctionName: n.FunctionName,
		Schedule: json.RawMessage(spec), InputData: json.RawMessage(input), IsActive: n.IsActive,
		NextRunAt: next, CreatedAt: ts, UpdatedAt: ts, Revision: 1}
	if n.CreatedBy != "" {
		u := n.CreatedBy
		s.CreatedByUserID = &u
	}
	err = st.db.TxThen(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO schedules (id, name, function_name, schedule, input_data,
			is_active, next_run_at, created_by_user_id, created_at, updated_at, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.Name, s.FunctionName, spec, input, s.IsActive, s.NextRunAt, s.CreatedByUserID, ts, ts, s.Revision)
		return err
	}, hook(committed, &s))
	if err != nil {
		return Schedule{}, fmt.Errorf("insert schedule: %w", err)
	}
	return s, nil
}

func hook(fn func(Schedule), s *Schedule) func() {
	if fn == nil {
		return nil
	}
	return func() { fn(*s) }
}

// Get returns the schedule with id, or ErrNotFound.
func (st *Store) Get(ctx context.Context, id string) (Schedule, error) {
	s, err := scan(st.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM schedules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Schedule{}, ErrNotFound
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("get schedule: %w", err)
	}
	return s, nil
}

// List returns one page of the schedules matching f, oldest first, and
// how many match in all.
func (st *Store) List(ctx context.Context, f Filter) ([]Schedule, int, error) {
	var where []string
	var args []any
	if f.FunctionName != "" {
		where, args = append(where, "function_name = ?"), append(args, f.FunctionName)
	}
	if f.IsActive != nil {
		where, args = append(where, "is_active = ?"), append(args, *f.IsActive)
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
	tx, err := st.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("list schedules: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schedules`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count schedules: %w", err)
	}
	list, err := query(ctx, tx, `SELECT `+columns+` FROM schedules`+cond+
		` ORDER BY created_at, id LIMIT ? OFFSET ?`, append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list schedules: %w", err)
	}
	return list, total, nil
}

// Active returns up to limit active schedules with ids after afterID, in
// id order, and whether more follow.
func (st *Store) Active(ctx context.Context, afterID string, limit int) ([]Schedule, bool, error) {
	list, err := query(ctx, st.db.R, `SELECT `+columns+` FROM schedules WHERE is_active = 1 AND id > ?
		ORDER BY id LIMIT ?`, afterID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list active schedules: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

func query(ctx context.Context, q store.Querier, text string, args ...any) ([]Schedule, error) {
	return store.Collect(ctx, q, scan, text, args...)
}

// Update applies p in the reference's order: name, input data, the
// specification (validated; the next instant recomputed from now when
// active), then is_active (activating recomputes the next instant,
// deactivating clears it). A changed specification or is_active raises
// the revision. committed runs after the commit.
func (st *Store) Update(ctx context.Context, id string, p Patch, committed func(Schedule)) (Schedule, error) {
	var s Schedule
	now := st.now()
	err := st.db.TxThen(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM schedules WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		timing := false
		if p.Name != nil {
			s.Name = *p.Name
		}
		if p.InputData != nil {
			v, err := compact(p.InputData, "{}")
			if err != nil {
				return err
			}
			s.InputData = json.RawMessage(v)
		}
		if p.Spec != nil {
			next, err := nextFrom(p.Spec, s.IsActive, now)
			if err != nil {
				return err
			}
			v, err := compact(p.Spec, "{}")
			if err != nil {
				return err
			}
			s.Schedule, s.NextRunAt, timing = json.RawMessage(v), next, true
		}
		if p.IsActive != nil && *p.IsActive != s.IsActive {
			s.IsActive, timing = *p.IsActive, true
			s.NextRunAt = nil
			if s.IsActive {
				if s.NextRunAt, err = nextFrom(s.Schedule, true, now); err != nil {
					return err
				}
			}
		}
		if timing {
			s.Revision++
		}
		s.UpdatedAt = store.FormatTime(now)
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET name = ?, schedule = ?, input_data = ?, is_active = ?,
			next_run_at = ?, revision = ?, updated_at = ? WHERE id = ?`,
			s.Name, string(s.Schedule), string(s.InputData), s.IsActive, s.NextRunAt, s.Revision, s.UpdatedAt, id)
		return err
	}, hook(committed, &s))
	if err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// Delete removes a schedule; committed gets it as it was, revision raised.
func (st *Store) Delete(ctx context.Context, id string, committed func(Schedule)) error {
	var s Schedule
	err := st.db.TxThen(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scan(tx.QueryRowContext(ctx, `DELETE FROM schedules WHERE id = ? RETURNING `+columns, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		s.Revision++
		s.IsActive = false
		return err
	}, hook(committed, &s))
	return err
}

// FireOutcome is how the api handled one fire.
type FireOutcome int

// Fire outcomes.
const (
	// Ran: a call was queued for the instant.
	Ran FireOutcome = iota
	// Missed: the instant was skipped (too late, or coalesced into a
	// later one).
	Missed
)

// RecordFire stores the result of a fire of revision rev for instant due,
// with next the instant the scheduler waits for (none when hasNext is
// false: the schedule is done and is deactivated). last_run_at and
// next_run_at only move forward, so a late or repeated fire cannot undo a
// newer one. A fire of another revision changes nothing and returns
// applied false. When the schedule is deactivated, committed runs after
// the commit.
func (st *Store) RecordFire(ctx context.Context, id string, rev int64, due time.Time, outcome FireOutcome,
	next time.Time, hasNext bool, committed func(Schedule)) (applied bool, err error) {
	var s Schedule
	deactivated := false
	err = st.db.TxThen(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM schedules WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		applied, deactivated = false, false
		if s.Revision != rev || !s.IsActive {
			return nil
		}
		applied = true
		dueText := store.FormatTime(due)
		switch outcome {
		case Ran:
			if last, ok := s.LastRun(); !ok || due.After(last) {
				s.LastRunAt = &dueText
			}
		case Missed:
			s.MissedRuns++
			s.LastMissedAt = &dueText
		}
		if hasNext {
			if cur, ok := s.NextRun(); !ok || next.After(cur) {
				v := store.FormatTime(next)
				s.NextRunAt = &v
			}
		} else {
			s.IsActive, s.NextRunAt, deactivated = false, nil, true
			s.Revision++
			s.UpdatedAt = store.FormatTime(st.now())
		}
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET last_run_at = ?, next_run_at = ?, missed_runs = ?,
			last_missed_at = ?, is_active = ?, revision = ?, updated_at = ? WHERE id = ?`,
			s.LastRunAt, s.NextRunAt, s.MissedRuns, s.LastMissedAt, s.IsActive, s.Revision, s.UpdatedAt, id)
		return err
	}, func() {
		if deactivated && committed != nil {
			committed(s)
		}
	})
	if err != nil {
		return false, err
	}
	return applied, nil
}

// MarkRun sets last_run_at for a run started by hand.
func (st *Store) MarkRun(ctx context.Context, id string, at time.Time) error {
	return st.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE schedules SET last_run_at = ? WHERE id = ?
			AND (last_run_at IS NULL OR last_run_at < ?)`, store.FormatTime(at), id, store.FormatTime(at))
		return err
	})
}
