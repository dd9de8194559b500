package collections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// List parameters.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListOptions selects a page of records. A zero Limit means DefaultLimit.
type ListOptions struct {
	Limit  int
	Offset int
	// SortBy is created_at or updated_at (the record's timestamps), or a
	// data field of a scalar type (its bare name, or data.<name>). Any other
	// value, or none, means created_at descending and ignores SortOrder, as
	// in TinyBase.
	SortBy string
	// SortOrder is "asc" or "desc" (the default).
	SortOrder string
	// OwnerID, when set, lists and counts only that owner's records.
	OwnerID *string
	// Filter is a filter expression (see filter.go); empty means all.
	Filter string
	// After is a cursor from a previous page's NextCursor: the page starts
	// right after the record it points at. It cannot be combined with an
	// offset.
	After string
	// SkipTotal leaves Page.Total nil and saves the count.
	SkipTotal bool
}

// Page is one page of records. Total counts every record that matches
// (ignoring Limit, Offset and After), or is nil when skipped. NextCursor
// continues after the last record of the page, or is nil on the last page.
type Page struct {
	Records    []Record `json:"records"`
	Total      *int     `json:"total"`
	Limit      int      `json:"limit"`
	Offset     int      `json:"offset"`
	NextCursor *string  `json:"next_cursor"`
}

// sortSpec is a resolved sort: the key as named in cursors, its SQL
// expression and direction. Ties are broken by rowid, in insertion order.
type sortSpec struct {
	key      string
	expr     string
	desc     bool
	nullable bool
}

func (s sortSpec) dir() string {
	if s.desc {
		return "DESC"
	}
	return "ASC"
}

func resolveSort(sch Schema, by, order string) (sortSpec, error) {
	desc := true
	switch strings.ToLower(order) {
	case "", "desc":
	case "asc":
		desc = false
	default:
		return sortSpec{}, &InputError{Field: "sort_order", Message: "must be asc or desc"}
	}
	switch by {
	case "created_at", "updated_at":
		return sortSpec{key: by, expr: "r." + by, desc: desc}, nil
	}
	name := by
	if sch.field(name) == nil {
		name = strings.TrimPrefix(by, "data.")
	}
	f := sch.field(name)
	if f == nil {
		return sortSpec{key: "created_at", expr: "r.created_at", desc: true}, nil
	}
	if f.Type == TypeObject || f.isList() {
		return sortSpec{}, &InputError{Field: "sort_by",
			Message: fmt.Sprintf("cannot sort by %s, a field of type %s", f.Name, f.Type)}
	}
	return sortSpec{key: "data." + f.Name, expr: fieldExpr(f.Name), desc: desc, nullable: true}, nil
}

// cursor is the position after which the next page starts: the sort key's
// value and the rowid of the last record served. (A VACUUM may renumber
// rowids; cursors handed out before one may then skip or repeat records.) It is handed out as
// base64url JSON and names its sort, so it cannot be used with another one.
type cursor struct {
	// Coll is the collection the cursor was made for.
	Coll string `json:"c"`
	Key  string `json:"k"`
	Desc bool   `json:"d"`
	// Type is "n" (null), "i" (int64, in V as decimal), "f" (float64) or "s".
	Type string `json:"t"`
	V    string `json:"v,omitempty"`
	Row  int64  `json:"r"`
}

func encodeCursor(coll string, spec sortSpec, v any, rowid int64) string {
	c := cursor{Coll: coll, Key: spec.key, Desc: spec.desc, Row: rowid}
	switch x := v.(type) {
	case nil:
		c.Type = "n"
	case int64:
		c.Type, c.V = "i", strconv.FormatInt(x, 10)
	case float64:
		c.Type, c.V = "f", strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		c.Type, c.V = "s", string(x)
	case string:
		c.Type, c.V = "s", x
	default:
		c.Type, c.V = "s", fmt.Sprint(x)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor checks a cursor against the sort in force and returns the
// SQL value of its key.
func decodeCursor(s, coll string, spec sortSpec) (cursor, any, error) {
	bad := &InputError{Field: "after", Message: "is not a cursor from this listing"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, nil, bad
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return cursor{}, nil, bad
	}
	if c.Coll != coll {
		return cursor{}, nil, bad
	}
	if c.Key != spec.key || c.Desc != spec.desc {
		return cursor{}, nil, &InputError{Field: "after",
			Message: "was made for another sort_by or sort_order than this request's"}
	}
	switch c.Type {
	case "n":
		if !spec.nullable {
			return cursor{}, nil, bad
		}
		return c, nil, nil
	case "i":
		n, err := strconv.ParseInt(c.V, 10, 64)
		if err != nil {
			return cursor{}, nil, bad
		}
		return c, n, nil
	case "f":
		f, err := strconv.ParseFloat(c.V, 64)
		if err != nil {
			return cursor{}, nil, bad
		}
		return c, f, nil
	case "s":
		return c, c.V, nil
	}
	return cursor{}, nil, bad
}

// keyset returns the condition selecting the records after the cursor in
// the sort order. SQLite sorts nulls first ascending and last descending.
func keyset(spec sortSpec, v any, row int64) (string, []any) {
	e := spec.expr
	switch {
	case v == nil && spec.desc:
		return "(" + e + " IS NULL AND r.rowid < ?)", []any{row}
	case v == nil:
		return "((" + e + " IS NULL AND r.rowid > ?) OR " + e + " IS NOT NULL)", []any{row}
	case spec.desc && spec.nullable:
		return "((" + e + ", r.rowid) < (?, ?) OR " + e + " IS NULL)", []any{v, row}
	case spec.desc:
		return "(" + e + ", r.rowid) < (?, ?)", []any{v, row}
	default:
		return "(" + e + ", r.rowid) > (?, ?)", []any{v, row}
	}
}

// ListRecords returns one page of a collection's records and, unless
// skipped, the total count, read from one snapshot so that the two agree.
// Errors: ErrCollectionNotFound, *InputError for a bad limit, offset, sort,
// filter or cursor.
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
	if o.After != "" && o.Offset != 0 {
		return Page{}, &InputError{Field: "offset", Message: "cannot be combined with after"}
	}
	cid, sch, err := s.lookup(ctx, coll)
	if err != nil {
		return Page{}, err
	}
	spec, err := resolveSort(sch, o.SortBy, o.SortOrder)
	if err != nil {
		return Page{}, err
	}
	where := collectionTerm(cid)
	var args []any
	if o.OwnerID != nil {
		where += " AND r.owner_id = ?"
		args = append(args, *o.OwnerID)
	}
	if strings.TrimSpace(o.Filter) != "" {
		cond, fargs, err := compileFilter(sch, o.Filter)
		if err != nil {
			var fe *FilterError
			if errors.As(err, &fe) {
				return Page{}, &InputError{Field: "filter",
					Message: fmt.Sprintf("%s (at offset %d)", fe.Message, fe.Pos)}
			}
			return Page{}, err
		}
		where += " AND " + cond
		args = append(args, fargs...)
	}
	pageWhere, pageArgs := where, args
	if o.After != "" {
		c, v, err := decodeCursor(o.After, fmt.Sprint(cid), spec)
		if err != nil {
			return Page{}, err
		}
		cond, kargs := keyset(spec, v, c.Row)
		pageWhere += " AND " + cond
		pageArgs = append(append([]any{}, args...), kargs...)
	}

	var q querier = s.db.R
	var rowq interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	} = s.db.R
	p := Page{Records: []Record{}, Limit: o.Limit, Offset: o.Offset}
	if !o.SkipTotal {
		// Count and page from one snapshot.
		tx, err := s.db.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return Page{}, fmt.Errorf("list records: %w", err)
		}
		defer tx.Rollback()
		q, rowq = tx, tx
		count, cargs := `SELECT COUNT(*) FROM records r WHERE `+where, args
		if where == collectionTerm(cid) {
			// Nothing but the collection: the trigger-kept count answers.
			count, cargs = `SELECT records FROM collection_counts WHERE collection_id = ?`, []any{cid}
		}
		var total int
		if err := rowq.QueryRowContext(ctx, count, cargs...).Scan(&total); err != nil {
			return Page{}, fmt.Errorf("count records: %w", err)
		}
		p.Total = &total
	}
	rows, err := q.QueryContext(ctx, `SELECT `+recordColumns+`, r.rowid, `+spec.expr+` FROM records r WHERE `+
		pageWhere+` ORDER BY `+spec.expr+` `+spec.dir()+`, r.rowid `+spec.dir()+` LIMIT ? OFFSET ?`,
		append(pageArgs, o.Limit+1, o.Offset)...)
	if err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var (
		lastKey any
		lastRow int64
	)
	for rows.Next() {
		var (
			r     Record
			owner sql.NullString
			data  string
			rowid int64
			key   any
		)
		err := rows.Scan(&r.ID, &r.CollectionID, &owner, &data, &r.CreatedAt, &r.UpdatedAt, &rowid, &key)
		if err != nil {
			return Page{}, fmt.Errorf("list records: %w", err)
		}
		if len(p.Records) == o.Limit {
			next := encodeCursor(fmt.Sprint(cid), spec, lastKey, lastRow)
			p.NextCursor = &next
			break
		}
		if owner.Valid {
			r.OwnerID = &owner.String
		}
		r.Data = json.RawMessage(data)
		p.Records = append(p.Records, r)
		lastKey, lastRow = key, rowid
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list records: %w", err)
	}
	return p, nil
}
