package collections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

// Record is one record of a collection as stored and served.
type Record struct {
	ID           string  `json:"id"`
	CollectionID string  `json:"collection_id"`
	OwnerID      *string `json:"owner_id"`
	// Data is the validated, normalised record object.
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// List parameters.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListOptions selects a page of records. A zero Limit means DefaultLimit.
// SortBy "created_at" or "updated_at" is honoured with SortOrder "asc" or
// "desc" (default "desc"); any other SortBy means created_at descending, as
// in TinyBase. When OwnerID is set only that owner's records are listed and
// counted.
type ListOptions struct {
	Limit     int
	Offset    int
	SortBy    string
	SortOrder string
	OwnerID   *string
	// TODO(filter): a filter expression over data fields goes here.
}

// Page is one page of records; Total counts every record that matches,
// ignoring Limit and Offset.
type Page struct {
	Records []Record `json:"records"`
	Total   int      `json:"total"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
}

const recordColumns = `r.id, r.collection_id, r.owner_id, r.data, r.created_at, r.updated_at`

func scanRecord(row scanner) (Record, error) {
	var r Record
	var owner sql.NullString
	var data string
	err := row.Scan(&r.ID, &r.CollectionID, &owner, &data, &r.CreatedAt, &r.UpdatedAt)
	if owner.Valid {
		r.OwnerID = &owner.String
	}
	r.Data = json.RawMessage(data)
	return r, err
}

// collectionForWrite reads a collection's id and schema inside a write
// transaction, so the schema used to validate is the one in force at commit.
func (s *Service) collectionForWrite(ctx context.Context, tx *sql.Tx, name string) (string, Schema, error) {
	var id, raw string
	err := tx.QueryRowContext(ctx, `SELECT id, schema FROM collections WHERE name = ?`, name).Scan(&id, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Schema{}, collectionNotFound(name)
	}
	if err != nil {
		return "", Schema{}, err
	}
	sch, err := s.schemaFor(name, id, raw)
	return id, sch, err
}

// checkRefs verifies that every reference names an existing record of its
// target collection, adding a "reference" error for each that does not.
func checkRefs(ctx context.Context, tx *sql.Tx, refs []refCheck) ([]FieldError, error) {
	var errs []FieldError
	for _, ref := range refs {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM records r JOIN collections c ON c.id = r.collection_id
			WHERE r.id = ? AND c.name = ?`, ref.id, ref.collection).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			errs = append(errs, FieldError{Field: ref.field, Code: CodeReference,
				Message: fmt.Sprintf("no record '%s' in collection '%s'", ref.id, ref.collection)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check reference %s: %w", ref.field, err)
		}
	}
	return errs, nil
}

// validateForWrite validates data and its references inside tx.
func validateForWrite(ctx context.Context, tx *sql.Tx, sch Schema,
	obj map[string]json.RawMessage) (json.RawMessage, error) {
	out, refs, err := sch.validateObject(obj)
	if err != nil {
		return nil, err
	}
	errs, err := checkRefs(ctx, tx, refs)
	if err != nil {
		return nil, err
	}
	if errs != nil {
		return nil, &ValidationError{Errors: errs}
	}
	return out, nil
}

// CreateRecord validates data against the collection's schema and stores it
// as a new record owned by ownerID (nil for none). It returns after the
// transaction has committed. Errors: ErrCollectionNotFound, *ValidationError,
// ErrOwnerNotFound.
func (s *Service) CreateRecord(ctx context.Context, coll string, ownerID *string,
	data json.RawMessage) (Record, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return Record{}, err
	}
	now := store.Now()
	r := Record{ID: uuid.NewString(), OwnerID: ownerID, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cid, sch, err := s.collectionForWrite(ctx, tx, coll)
		if err != nil {
			return err
		}
		r.CollectionID = cid
		if ownerID != nil {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, *ownerID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrOwnerNotFound
			}
			if err != nil {
				return err
			}
		}
		if r.Data, err = validateForWrite(ctx, tx, sch, obj); err != nil {
			return err
		}
		// TODO(unique): map a unique index violation to a ValidationError here.
		_, err = tx.ExecContext(ctx, `INSERT INTO records (id, collection_id, owner_id, data, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.ID, r.CollectionID, ownerID, string(r.Data), r.CreatedAt, r.UpdatedAt)
		return err
	})
	if err != nil {
		return Record{}, wrapRecordErr("create record", err)
	}
	return r, nil
}

// GetRecord returns a record of the named collection. A record that exists
// in another collection is reported as not found.
func (s *Service) GetRecord(ctx context.Context, coll, id string) (Record, error) {
	var cid string
	var rid sql.NullString
	r := Record{}
	var owner, data, created, updated sql.NullString
	err := s.db.R.QueryRowContext(ctx, `SELECT c.id, r.id, r.owner_id, r.data, r.created_at, r.updated_at
		FROM collections c LEFT JOIN records r ON r.collection_id = c.id AND r.id = ?
		WHERE c.name = ?`, id, coll).Scan(&cid, &rid, &owner, &data, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, collectionNotFound(coll)
	}
	if err != nil {
		return Record{}, fmt.Errorf("get record: %w", err)
	}
	if !rid.Valid {
		return Record{}, recordNotFound(id)
	}
	r.ID, r.CollectionID = rid.String, cid
	if owner.Valid {
		r.OwnerID = &owner.String
	}
	r.Data, r.CreatedAt, r.UpdatedAt = json.RawMessage(data.String), created.String, updated.String
	return r, nil
}

// UpdateRecord merges patch (a JSON object) over the stored data, one level
// deep, and re-validates the whole result against the current schema, so a
// stored value that the schema no longer accepts must be fixed in the same
// patch. The owner never changes. Errors: ErrCollectionNotFound,
// ErrRecordNotFound, *ValidationError.
func (s *Service) UpdateRecord(ctx context.Context, coll, id string, patch json.RawMessage) (Record, error) {
	changes, err := decodeObject(patch)
	if err != nil {
		return Record{}, err
	}
	var r Record
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cid, sch, err := s.collectionForWrite(ctx, tx, coll)
		if err != nil {
			return err
		}
		r, err = scanRecord(tx.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM records r
			WHERE r.id = ? AND r.collection_id = ?`, id, cid))
		if errors.Is(err, sql.ErrNoRows) {
			return recordNotFound(id)
		}
		if err != nil {
			return err
		}
		merged := map[string]json.RawMessage{}
		if err := json.Unmarshal(r.Data, &merged); err != nil {
			return fmt.Errorf("decode stored record %s: %w", id, err)
		}
		for k, v := range changes {
			merged[k] = v
		}
		if r.Data, err = validateForWrite(ctx, tx, sch, merged); err != nil {
			return err
		}
		r.UpdatedAt = store.Now()
		// TODO(unique): map a unique index violation to a ValidationError here.
		_, err = tx.ExecContext(ctx, `UPDATE records SET data = ?, updated_at = ? WHERE id = ?`,
			string(r.Data), r.UpdatedAt, r.ID)
		return err
	})
	if err != nil {
		return Record{}, wrapRecordErr("update record", err)
	}
	return r, nil
}

// DeleteRecord deletes a record of the named collection. Reference fields
// that point at it are left dangling.
func (s *Service) DeleteRecord(ctx context.Context, coll, id string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var cid string
		err := tx.QueryRowContext(ctx, `SELECT id FROM collections WHERE name = ?`, coll).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			return collectionNotFound(coll)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE id = ? AND collection_id = ?`, id, cid)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return recordNotFound(id)
		}
		return nil
	})
	if err != nil {
		return wrapRecordErr("delete record", err)
	}
	return nil
}

// ListRecords returns one page of a collection's records and the total count,
// read from one snapshot so that the two agree. Errors: ErrCollectionNotFound,
// *InputError for a bad limit, offset or sort order.
func (s *Service) ListRecords(ctx context.Context, coll string, o ListOptions) (Page, error) {
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	if o.Limit < 1 || o.Limit > MaxLimit {
		return Page{}, &InputError{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", MaxLimit)}
	}
	if o.Offset < 0 {
		return Page{}, &InputError{Field: "offset", Message: "must not be negative"}
	}
	order := "DESC"
	switch strings.ToLower(o.SortOrder) {
	case "", "desc":
	case "asc":
		order = "ASC"
	default:
		return Page{}, &InputError{Field: "sort_order", Message: "must be asc or desc"}
	}
	column := "created_at"
	switch o.SortBy {
	case "created_at", "updated_at":
		column = o.SortBy
	default:
		order = "DESC"
	}
	// TODO(filter): sorting by data fields and filtering belong with the filter grammar.

	tx, err := s.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	defer tx.Rollback()

	var cid string
	err = tx.QueryRowContext(ctx, `SELECT id FROM collections WHERE name = ?`, coll).Scan(&cid)
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, collectionNotFound(coll)
	}
	if err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	where := `r.collection_id = ?`
	args := []any{cid}
	if o.OwnerID != nil {
		where += ` AND r.owner_id = ?`
		args = append(args, *o.OwnerID)
	}
	p := Page{Records: []Record{}, Limit: o.Limit, Offset: o.Offset}
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM records r WHERE `+where, args...).Scan(&p.Total)
	if err != nil {
		return Page{}, fmt.Errorf("count records: %w", err)
	}
	// rowid breaks ties between records written in the same microsecond, in
	// insertion order.
	rows, err := tx.QueryContext(ctx, `SELECT `+recordColumns+` FROM records r WHERE `+where+
		` ORDER BY r.`+column+` `+order+`, r.rowid `+order+` LIMIT ? OFFSET ?`,
		append(args, o.Limit, o.Offset)...)
	if err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return Page{}, fmt.Errorf("list records: %w", err)
		}
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	return p, nil
}

// wrapRecordErr adds context to unexpected errors and passes the typed ones
// through unchanged, so their messages reach clients as they are.
func wrapRecordErr(op string, err error) error {
	var verr *ValidationError
	if errors.Is(err, ErrCollectionNotFound) || errors.Is(err, ErrRecordNotFound) ||
		errors.Is(err, ErrOwnerNotFound) || errors.As(err, &verr) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
