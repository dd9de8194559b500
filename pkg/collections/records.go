package collections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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

const recordColumns = `r.id, r.collection_id, r.owner_id, r.data, r.created_at, r.updated_at`

// returningColumns is recordColumns for RETURNING clauses, which take no
// table alias.
const returningColumns = `id, collection_id, owner_id, data, created_at, updated_at`

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

// lookup returns a collection's id and parsed schema from the read pool.
func (s *Service) lookup(ctx context.Context, name string) (string, Schema, error) {
	var id, raw string
	err := s.readRow(ctx, qCollectionSchema, name).Scan(&id, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Schema{}, collectionNotFound(name)
	}
	if err != nil {
		return "", Schema{}, fmt.Errorf("look up collection %s: %w", name, err)
	}
	sch, err := s.schemaFor(name, id, raw)
	return id, sch, err
}

// checkRefs verifies that every reference names an existing record of its
// target collection, adding a "reference" error for each that does not.
func (s *Service) checkRefs(ctx context.Context, tx *sql.Tx, refs []refCheck) ([]FieldError, error) {
	var errs []FieldError
	for _, ref := range refs {
		var one int
		err := s.txRow(ctx, tx, qRefExists, ref.id, ref.collection).Scan(&one)
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

// sqlValue converts a normalised JSON value to what json_extract returns
// for it, so that it can be compared with stored values.
func sqlValue(v json.RawMessage) any {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	switch v[0] {
	case 'n':
		return nil
	case 't':
		return int64(1)
	case 'f':
		return int64(0)
	case '"':
		s, _ := decodeString(v)
		return s
	case '[', '{':
		return string(v)
	}
	if n, res := parseInt(string(v)); res == numOK {
		return n
	}
	f, _ := parseFloat(string(v))
	return f
}

// checkUnique reports the unique fields of data whose value another record
// of the collection (other than self) already holds. The unique indexes
// enforce the rule regardless; this check runs first, inside the write
// transaction, to name every conflicting field at once.
func checkUnique(ctx context.Context, tx *sql.Tx, cid string, sch Schema, data json.RawMessage,
	self string) ([]FieldError, error) {
	var (
		obj  map[string]json.RawMessage
		errs []FieldError
	)
	for i := range sch.Fields {
		f := &sch.Fields[i]
		if !f.Unique {
			continue
		}
		if obj == nil {
			if err := json.Unmarshal(data, &obj); err != nil {
				return nil, fmt.Errorf("decode record: %w", err)
			}
		}
		v := sqlValue(obj[f.Name])
		if v == nil {
			continue
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM records r WHERE `+collectionTerm(cid)+
			` AND `+fieldExpr(f.Name)+` = ? AND r.id != ? LIMIT 1`, v, self).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check unique %s: %w", f.Name, err)
		}
		errs = append(errs, FieldError{Field: f.Name, Code: CodeUnique,
			Message: "another record already has this value"})
	}
	return errs, nil
}

// writeErr maps constraint failures of a record write to typed errors.
func writeErr(err error, cid string, sch Schema) error {
	if idx, ok := store.UniqueViolation(err); ok {
		for _, ix := range sch.indexes(cid) {
			if ix.Name == idx {
				return &UniqueError{Errors: []FieldError{{Field: ix.Field, Code: CodeUnique,
					Message: "another record already has this value"}}}
			}
		}
		return &UniqueError{Errors: []FieldError{{Code: CodeUnique, Message: "a unique value is already taken"}}}
	}
	if store.ForeignKeyViolation(err) {
		return ErrOwnerNotFound
	}
	return err
}

// prepared is record data validated before entering the writer, with the
// schema it was validated against.
type prepared struct {
	cid, raw string
	data     json.RawMessage
	refs     []refCheck
}

// validateWith validates obj against the schema in force inside tx,
// reusing pre when the schema has not changed since it was validated.
func (s *Service) validateWith(ctx context.Context, tx *sql.Tx, coll string, obj map[string]json.RawMessage,
	pre *prepared) (string, Schema, json.RawMessage, error) {
	var id, raw string
	err := s.txRow(ctx, tx, qCollectionSchema, coll).Scan(&id, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return "", Schema{}, nil, collectionNotFound(coll)
	}
	if err != nil {
		return "", Schema{}, nil, err
	}
	sch, err := s.schemaFor(coll, id, raw)
	if err != nil {
		return "", Schema{}, nil, err
	}
	data, refs := json.RawMessage(nil), []refCheck(nil)
	if pre != nil && pre.cid == id && pre.raw == raw {
		data, refs = pre.data, pre.refs
	} else {
		if data, refs, err = sch.validateObject(obj); err != nil {
			return "", Schema{}, nil, err
		}
	}
	errs, err := s.checkRefs(ctx, tx, refs)
	if err != nil {
		return "", Schema{}, nil, err
	}
	if errs != nil {
		return "", Schema{}, nil, &ValidationError{Errors: errs}
	}
	return id, sch, data, nil
}

// prepare validates data against the cached schema outside the writer, so
// that the writer's time goes to SQLite, not JSON. A validation error is
// returned only once the schema it came from is known to be current.
func (s *Service) prepare(ctx context.Context, coll string, obj map[string]json.RawMessage) (*prepared, error) {
	id, raw, sch, ok := s.cached(coll)
	for attempt := 0; ; attempt++ {
		if !ok {
			if _, _, err := s.lookup(ctx, coll); err != nil {
				return nil, err
			}
			id, raw, sch, _ = s.cached(coll)
		}
		data, refs, err := sch.validateObject(obj)
		if err == nil {
			return &prepared{cid: id, raw: raw, data: data, refs: refs}, nil
		}
		if attempt > 0 {
			return nil, err
		}
		var curID, curRaw string
		qerr := s.readRow(ctx, qCollectionSchema, coll).Scan(&curID, &curRaw)
		if qerr == nil && curID == id && curRaw == raw {
			return nil, err
		}
		ok = false
	}
}

// CreateRecord validates data against the collection's schema and stores it
// as a new record owned by ownerID (nil for none). It returns after the
// transaction has committed. Errors: ErrCollectionNotFound, *ValidationError,
// *UniqueError, ErrOwnerNotFound.
func (s *Service) CreateRecord(ctx context.Context, coll string, ownerID *string,
	data json.RawMessage) (Record, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return Record{}, err
	}
	pre, err := s.prepare(ctx, coll, obj)
	if err != nil {
		return Record{}, err
	}
	r := Record{ID: uuid.NewString(), OwnerID: ownerID}
	err = s.db.TxThen(ctx, func(tx *sql.Tx) error {
		cid, sch, out, err := s.validateWith(ctx, tx, coll, obj, pre)
		if err != nil {
			return err
		}
		// Stamped inside the writer, so creation times follow commit order.
		now := store.Now()
		r.CollectionID, r.Data, r.CreatedAt, r.UpdatedAt = cid, out, now, now
		conflicts, err := checkUnique(ctx, tx, cid, sch, out, r.ID)
		if err != nil {
			return err
		}
		if conflicts != nil {
			return &UniqueError{Errors: conflicts}
		}
		_, err = s.txExec(ctx, tx, qInsertRecord, r.ID, r.CollectionID, ownerID, string(r.Data),
			r.CreatedAt, r.UpdatedAt)
		return writeErr(err, cid, sch)
	}, func() {
		s.publish([]Event{{Op: OpCreate, Collection: coll, Record: r, At: r.CreatedAt}})
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
	err := s.readRow(ctx, qGetRecord, id, coll).Scan(&cid, &rid, &owner, &data, &created, &updated)
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
// ErrRecordNotFound, *ValidationError, *UniqueError.
func (s *Service) UpdateRecord(ctx context.Context, coll, id string, patch json.RawMessage) (Record, error) {
	changes, err := decodeObject(patch)
	if err != nil {
		return Record{}, err
	}
	var r Record
	err = s.db.TxThen(ctx, func(tx *sql.Tx) error {
		var cid string
		err := s.txRow(ctx, tx, qCollectionID, coll).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			return collectionNotFound(coll)
		}
		if err != nil {
			return err
		}
		r, err = scanRecord(s.txRow(ctx, tx, qRecordInCollection, id, cid))
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
		_, sch, out, err := s.validateWith(ctx, tx, coll, merged, nil)
		if err != nil {
			return err
		}
		conflicts, err := checkUnique(ctx, tx, cid, sch, out, r.ID)
		if err != nil {
			return err
		}
		if conflicts != nil {
			return &UniqueError{Errors: conflicts}
		}
		r.Data, r.UpdatedAt = out, store.Now()
		_, err = s.txExec(ctx, tx, qUpdateRecord, string(r.Data), r.UpdatedAt, r.ID)
		return writeErr(err, cid, sch)
	}, func() {
		s.publish([]Event{{Op: OpUpdate, Collection: coll, Record: r, At: r.UpdatedAt}})
	})
	if err != nil {
		return Record{}, wrapRecordErr("update record", err)
	}
	return r, nil
}

// DeleteRecord deletes a record of the named collection and applies the
// on_delete policy of every reference field that points at it: records
// under restrict refuse the delete (*ReferencedError, nothing changes),
// records under cascade are deleted too (and so on, transitively), and
// fields under set_null are set to null. Errors: ErrCollectionNotFound,
// ErrRecordNotFound, *ReferencedError.
func (s *Service) DeleteRecord(ctx context.Context, coll, id string) error {
	var events []Event
	err := s.db.TxThen(ctx, func(tx *sql.Tx) error {
		events = nil
		var cid string
		err := s.txRow(ctx, tx, qCollectionID, coll).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			return collectionNotFound(coll)
		}
		if err != nil {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM records WHERE id = ? AND collection_id = ?`, id, cid).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return recordNotFound(id)
		}
		if err != nil {
			return err
		}
		events, err = s.deleteWithPolicies(ctx, tx, coll, cid, id)
		return err
	}, func() { s.publish(events) })
	if err != nil {
		return wrapRecordErr("delete record", err)
	}
	return nil
}

// wrapRecordErr adds context to unexpected errors and passes the typed ones
// through unchanged, so their messages reach clients as they are.
func wrapRecordErr(op string, err error) error {
	var (
		verr *ValidationError
		uerr *UniqueError
		rerr *ReferencedError
	)
	if errors.Is(err, ErrCollectionNotFound) || errors.Is(err, ErrRecordNotFound) ||
		errors.Is(err, ErrOwnerNotFound) || errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &rerr) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
