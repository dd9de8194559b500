package collections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tinybase/tinybase/pkg/store"
)

// referrer is a reference field, in collection coll, that points at
// records of another collection.
//
// TODO(references): multi-valued references (a list of ids) under the same
// on_delete policies.
type referrer struct {
	coll, cid string
	field     string
	policy    string
}

// referrers maps each collection name to the reference fields that target
// it, read inside tx so that it matches the schemas in force.
func (s *Service) referrers(ctx context.Context, tx *sql.Tx) (map[string][]referrer, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, schema FROM collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	out := map[string][]referrer{}
	for rows.Next() {
		var id, name, raw string
		if err := rows.Scan(&id, &name, &raw); err != nil {
			return nil, err
		}
		sch, err := s.schemaFor(name, id, raw)
		if err != nil {
			// Without its schema we cannot tell what the collection refers
			// to; refusing is safer than guessing.
			return nil, err
		}
		for _, f := range sch.Fields {
			if f.Type == TypeReference {
				out[f.Collection] = append(out[f.Collection], referrer{coll: name, cid: id, field: f.Name,
					policy: f.OnDelete})
			}
		}
	}
	return out, rows.Err()
}

// deleteWithPolicies deletes record id of collection coll with everything
// its referrers' on_delete policies demand, and returns the events to
// publish. Nothing is written when a restrict policy refuses.
func (s *Service) deleteWithPolicies(ctx context.Context, tx *sql.Tx, coll, cid, id string) ([]Event, error) {
	refs, err := s.referrers(ctx, tx)
	if err != nil {
		return nil, err
	}
	type victim struct{ coll, cause, id string }
	type hit struct {
		ref referrer
		id  string
	}
	queue := []victim{{coll: coll, id: id}}
	doomed := map[string]bool{id: true}
	var restricted, nulled []hit
	for i := 0; i < len(queue); i++ {
		v := queue[i]
		for _, rf := range refs[v.coll] {
			ids, err := referringIDs(ctx, tx, rf, v.id)
			if err != nil {
				return nil, err
			}
			for _, rid := range ids {
				switch rf.policy {
				case OnDeleteCascade:
					if !doomed[rid] {
						doomed[rid] = true
						queue = append(queue, victim{coll: rf.coll, cause: CauseCascade, id: rid})
					}
				case OnDeleteSetNull:
					nulled = append(nulled, hit{rf, rid})
				default:
					restricted = append(restricted, hit{rf, rid})
				}
			}
		}
	}

	// Referrers that are themselves being deleted do not hold the delete up.
	counts := map[string]int{}
	for _, h := range restricted {
		if !doomed[h.id] {
			counts[h.ref.coll+"."+h.ref.field]++
		}
	}
	if len(counts) > 0 {
		blockers := map[string]string{}
		for f, n := range counts {
			blockers[f] = fmt.Sprintf("%d records refer to it (on_delete restrict)", n)
			if n == 1 {
				blockers[f] = "1 record refers to it (on_delete restrict)"
			}
		}
		return nil, referencedError(fmt.Sprintf("Record '%s'", id), blockers)
	}

	now := store.Now()
	var events []Event
	for _, v := range queue {
		r, err := scanRecord(tx.QueryRowContext(ctx,
			`DELETE FROM records WHERE id = ? RETURNING `+returningColumns, v.id))
		if err != nil {
			return nil, fmt.Errorf("delete record %s: %w", v.id, err)
		}
		events = append(events, Event{Op: OpDelete, Collection: v.coll, Record: r, Cause: v.cause, At: now})
	}
	updated := map[string]int{} // record id -> index in events
	for _, h := range nulled {
		if doomed[h.id] {
			continue
		}
		r, err := scanRecord(tx.QueryRowContext(ctx, `UPDATE records SET data = json_set(data, `+fieldPath(h.ref.field)+
			`, NULL), updated_at = ? WHERE id = ? RETURNING `+returningColumns, now, h.id))
		if err != nil {
			return nil, fmt.Errorf("clear reference %s.%s of %s: %w", h.ref.coll, h.ref.field, h.id, err)
		}
		e := Event{Op: OpUpdate, Collection: h.ref.coll, Record: r, Cause: CauseSetNull, At: now}
		if i, ok := updated[h.id]; ok {
			events[i] = e
			continue
		}
		updated[h.id] = len(events)
		events = append(events, e)
	}
	return events, nil
}

// referringIDs lists the records whose field rf holds target.
func referringIDs(ctx context.Context, tx *sql.Tx, rf referrer, target string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT r.id FROM records r WHERE `+collectionTerm(rf.cid)+
		` AND `+fieldExpr(rf.field)+` = ?`, target)
	if err != nil {
		return nil, fmt.Errorf("find references %s.%s: %w", rf.coll, rf.field, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// referencedError names the referring fields, each with why it blocks,
// in a stable order.
func referencedError(what string, blockers map[string]string) *ReferencedError {
	names := make([]string, 0, len(blockers))
	for n := range blockers {
		names = append(names, n)
	}
	sort.Strings(names)
	e := &ReferencedError{}
	for _, n := range names {
		e.Errors = append(e.Errors, FieldError{Field: n, Code: CodeRestrict, Message: blockers[n]})
	}
	e.Message = fmt.Sprintf("%s is referenced by %s", what, strings.Join(names, ", "))
	return e
}

// checkTargets verifies that the collection of every reference field
// exists (or is the collection itself, name).
func checkTargets(ctx context.Context, tx *sql.Tx, name string, sch Schema) error {
	for _, f := range sch.Fields {
		if f.Type != TypeReference || f.Collection == name {
			continue
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM collections WHERE name = ?`, f.Collection).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return &SchemaError{Field: f.Name, Message: fmt.Sprintf("collection %q does not exist", f.Collection)}
		}
		if err != nil {
			return fmt.Errorf("check reference target %s: %w", f.Collection, err)
		}
	}
	return nil
}
