package collections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// MaxStatusProblems caps how many invalid records a detailed status lists.
const MaxStatusProblems = 50

// IndexStatus compares the indexes a collection's schema asks for with the
// ones SQLite holds.
type IndexStatus struct {
	Expected   []indexSpec `json:"expected"`
	Present    []string    `json:"present"`
	Missing    []string    `json:"missing"`
	Unexpected []string    `json:"unexpected"`
}

// RecordProblem is a stored record that the current schema rejects.
type RecordProblem struct {
	ID     string       `json:"id"`
	Errors []FieldError `json:"errors"`
}

// CollectionStatus is the health of one collection.
type CollectionStatus struct {
	Name    string      `json:"name"`
	Records int         `json:"records"`
	Indexes IndexStatus `json:"indexes"`
	// InvalidRecords counts stored records that the current schema rejects
	// (after a schema change, or references whose target is gone).
	InvalidRecords int `json:"invalid_records"`
	// Invalid lists the first MaxStatusProblems of them, in the detailed
	// status only.
	Invalid []RecordProblem `json:"invalid,omitempty"`
	// Duplicates lists, for unique fields whose index is missing, values
	// that several records share (which would stop the index from being
	// created again).
	Duplicates map[string][]Duplicate `json:"duplicates,omitempty"`
	// SchemaError is set when the stored schema no longer parses.
	SchemaError string `json:"schema_error,omitempty"`
	Healthy     bool   `json:"healthy"`
}

// Health is the status of every collection.
type Health struct {
	Healthy     bool               `json:"healthy"`
	Collections []CollectionStatus `json:"collections"`
}

// Health reports the status of every collection, without the lists of
// invalid records. It reads and validates every record, so it costs time
// in proportion to the database's size.
func (s *Service) Health(ctx context.Context) (Health, error) {
	tx, err := s.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Health{}, fmt.Errorf("collection health: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM collections ORDER BY name`)
	if err != nil {
		return Health{}, fmt.Errorf("collection health: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return Health{}, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Health{}, err
	}
	h := Health{Healthy: true, Collections: []CollectionStatus{}}
	for _, n := range names {
		st, err := s.status(ctx, tx, n, false)
		if err != nil {
			return Health{}, err
		}
		h.Healthy = h.Healthy && st.Healthy
		h.Collections = append(h.Collections, st)
	}
	return h, nil
}

// Status reports the health of one collection, listing the first invalid
// records. Errors: ErrCollectionNotFound.
func (s *Service) Status(ctx context.Context, name string) (CollectionStatus, error) {
	tx, err := s.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return CollectionStatus{}, fmt.Errorf("collection status: %w", err)
	}
	defer tx.Rollback()
	return s.status(ctx, tx, name, true)
}

func (s *Service) status(ctx context.Context, tx *sql.Tx, name string, detail bool) (CollectionStatus, error) {
	st := CollectionStatus{Name: name, Indexes: IndexStatus{Expected: []indexSpec{}, Present: []string{},
		Missing: []string{}, Unexpected: []string{}}}
	var cid, raw string
	err := tx.QueryRowContext(ctx, `SELECT id, schema FROM collections WHERE name = ?`, name).Scan(&cid, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return st, collectionNotFound(name)
	}
	if err != nil {
		return st, fmt.Errorf("collection status: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM records r WHERE `+collectionTerm(cid)).
		Scan(&st.Records); err != nil {
		return st, fmt.Errorf("count records: %w", err)
	}
	present, err := presentIndexes(ctx, tx, cid)
	if err != nil {
		return st, err
	}
	st.Indexes.Present = append(st.Indexes.Present, present...)
	sch, err := s.schemaFor(name, cid, raw)
	if err != nil {
		st.SchemaError = err.Error()
		st.Indexes.Unexpected = append(st.Indexes.Unexpected, present...)
		return st, nil
	}
	have := map[string]bool{}
	for _, n := range present {
		have[n] = true
	}
	want := map[string]bool{}
	for _, ix := range sch.indexes(cid) {
		st.Indexes.Expected = append(st.Indexes.Expected, ix)
		want[ix.Name] = true
		if have[ix.Name] {
			continue
		}
		st.Indexes.Missing = append(st.Indexes.Missing, ix.Name)
		if ix.Unique {
			dups, err := duplicates(ctx, tx, cid, ix.Field)
			if err != nil {
				return st, err
			}
			if len(dups) > 0 {
				if st.Duplicates == nil {
					st.Duplicates = map[string][]Duplicate{}
				}
				st.Duplicates[ix.Field] = dups
			}
		}
	}
	for _, n := range present {
		if !want[n] {
			st.Indexes.Unexpected = append(st.Indexes.Unexpected, n)
		}
	}
	problems, err := s.invalidRecords(ctx, tx, cid, sch)
	if err != nil {
		return st, err
	}
	st.InvalidRecords = len(problems)
	if detail {
		st.Invalid = problems[:min(len(problems), MaxStatusProblems)]
	}
	st.Healthy = st.InvalidRecords == 0 && len(st.Indexes.Missing) == 0 && len(st.Indexes.Unexpected) == 0
	return st, nil
}

// invalidRecords validates every stored record of a collection against
// its current schema, and checks that every reference still resolves.
//
// TODO(health): bound the time and memory of the check on very large
// collections (sample, or resume from a cursor); it reads every record.
func (s *Service) invalidRecords(ctx context.Context, tx *sql.Tx, cid string, sch Schema) ([]RecordProblem, error) {
	byID := map[string][]FieldError{}
	rows, err := tx.QueryContext(ctx, `SELECT r.id, r.data FROM records r WHERE `+collectionTerm(cid))
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			rows.Close()
			return nil, err
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(data), &obj); err != nil || obj == nil {
			byID[id] = []FieldError{{Code: CodeType, Message: "stored data is not a JSON object"}}
			continue
		}
		if _, _, err := sch.validateObject(obj); err != nil {
			var verr *ValidationError
			if errors.As(err, &verr) {
				byID[id] = verr.Errors
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, f := range sch.Fields {
		if f.Type != TypeReference {
			continue
		}
		expr := fieldExpr(f.Name)
		rows, err := tx.QueryContext(ctx, `SELECT r.id, `+expr+` FROM records r WHERE `+collectionTerm(cid)+
			` AND typeof(`+expr+`) = 'text' AND NOT EXISTS (SELECT 1 FROM records t JOIN collections c
			ON c.id = t.collection_id WHERE t.id = `+expr+` AND c.name = ?)`, f.Collection)
		if err != nil {
			return nil, fmt.Errorf("check references %s: %w", f.Name, err)
		}
		for rows.Next() {
			var id, target string
			if err := rows.Scan(&id, &target); err != nil {
				rows.Close()
				return nil, err
			}
			byID[id] = append(byID[id], FieldError{Field: f.Name, Code: CodeReference,
				Message: fmt.Sprintf("no record '%s' in collection '%s'", target, f.Collection)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]RecordProblem, 0, len(byID))
	for id, errs := range byID {
		out = append(out, RecordProblem{ID: id, Errors: errs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
