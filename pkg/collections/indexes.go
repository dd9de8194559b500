package collections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
)

// Records of every collection share one table; a field's index is a partial
// index over (collection_id, json_extract(data, <field path>)[, created_at])
// restricted to the collection's rows. Index names are derived from the collection id and the
// field, so the expected set can be computed from the schema alone and
// compared with what SQLite holds (see Status).

// indexSpec is one index a schema asks for.
type indexSpec struct {
	Name   string `json:"name"`
	Field  string `json:"field"`
	Unique bool   `json:"unique"`
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fieldPath returns the SQL literal of the JSON path of a top-level field:
// $."name", with the name JSON-escaped, which SQLite reads back exactly for
// any name (dots, quotes, backslashes and all).
func fieldPath(name string) string {
	key, _ := json.Marshal(name)
	return sqlString("$." + string(key))
}

// fieldExpr is the SQL expression of a data field of the records row
// aliased r. The same text (without the alias) defines the field's index,
// which SQLite uses only when the expressions match.
func fieldExpr(name string) string { return "json_extract(r.data, " + fieldPath(name) + ")" }

// collectionTerm restricts a query to one collection with the id inline,
// the form the partial indexes are declared with.
func collectionTerm(cid string) string { return "r.collection_id = " + sqlString(cid) }

// indexPrefix starts the names of every index of a collection.
func indexPrefix(cid string) string {
	var b strings.Builder
	b.WriteString("tb_rec_")
	for _, c := range strings.ToLower(cid) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	b.WriteByte('_')
	return b.String()
}

// indexName is the name of a field's index: readable, and unique per field
// thanks to a hash of the exact field name.
func indexName(cid, field string, unique bool) string {
	kind := "i_"
	if unique {
		kind = "u_"
	}
	var slug strings.Builder
	for _, c := range strings.ToLower(field) {
		if slug.Len() >= 24 {
			break
		}
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' {
			slug.WriteRune(c)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(field))
	return fmt.Sprintf("%s%s%s_%08x", indexPrefix(cid), kind, slug.String(), h.Sum32())
}

// indexes lists the indexes the schema asks for, by name.
func (s Schema) indexes(cid string) []indexSpec {
	var out []indexSpec
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.indexed() {
			out = append(out, indexSpec{Name: indexName(cid, f.Name, f.Unique), Field: f.Name, Unique: f.Unique})
		}
	}
	return out
}

// create is the index's DDL. collection_id leads although the partial
// index holds one collection only: with it, a filter on the field is an
// index range on two columns, which the planner prefers over the
// one-column records_collection_created even without statistics. A
// non-unique index ends with created_at (and, implicitly, rowid), so that
// an equality filter is also served in the default order, newest first,
// without sorting: the planner then never scans the whole collection in
// created_at order looking for matches.
func (ix indexSpec) create(cid string) string {
	if ix.Unique {
		return fmt.Sprintf(`CREATE UNIQUE INDEX "%s" ON records (collection_id, json_extract(data, %s))
			WHERE collection_id = %s`, ix.Name, fieldPath(ix.Field), sqlString(cid))
	}
	return fmt.Sprintf(`CREATE INDEX "%s" ON records (collection_id, json_extract(data, %s), created_at)
		WHERE collection_id = %s`, ix.Name, fieldPath(ix.Field), sqlString(cid))
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// presentIndexes lists the names of the indexes SQLite holds for a
// collection's records.
func presentIndexes(ctx context.Context, q querier, cid string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'index' AND tbl_name = 'records' AND substr(name, 1, ?) = ?`,
		len(indexPrefix(cid)), indexPrefix(cid))
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, rows.Err()
}

// Duplicate is a value held by more than one record of a collection.
type Duplicate struct {
	// Value is the value as JSON.
	Value json.RawMessage `json:"value"`
	// Records is how many records hold it.
	Records int `json:"records"`
}

// maxDuplicates caps how many duplicated values are reported per field.
const maxDuplicates = 10

// duplicates lists values of a field that more than one record of the
// collection holds, most frequent first.
func duplicates(ctx context.Context, q querier, cid, field string) ([]Duplicate, error) {
	expr := fieldExpr(field)
	rows, err := q.QueryContext(ctx, `SELECT `+expr+`, COUNT(*) FROM records r
		WHERE `+collectionTerm(cid)+` AND `+expr+` IS NOT NULL
		GROUP BY `+expr+` HAVING COUNT(*) > 1
		ORDER BY COUNT(*) DESC, 1 LIMIT ?`, maxDuplicates)
	if err != nil {
		return nil, fmt.Errorf("find duplicates of %s: %w", field, err)
	}
	defer rows.Close()
	var out []Duplicate
	for rows.Next() {
		var v any
		var d Duplicate
		if err := rows.Scan(&v, &d.Records); err != nil {
			return nil, err
		}
		d.Value = sqlToJSON(v)
		out = append(out, d)
	}
	return out, rows.Err()
}

// sqlToJSON renders a value returned by json_extract as JSON: text is a
// string (or, for arrays and objects, JSON text that json_extract returns
// as text; those are shown as strings too).
func sqlToJSON(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null")
	case []byte:
		return encodeString(string(x))
	case string:
		return encodeString(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return json.RawMessage("null")
		}
		return b
	}
}

// syncIndexes makes the collection's indexes match the schema: it drops
// those the schema no longer asks for and creates the missing ones. It
// refuses (with a *UniqueError) to create a unique index over values that
// are already duplicated, before changing anything.
func syncIndexes(ctx context.Context, tx *sql.Tx, cid string, sch Schema) error {
	present, err := presentIndexes(ctx, tx, cid)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(present))
	for _, n := range present {
		have[n] = true
	}
	want := sch.indexes(cid)
	var conflicts []FieldError
	for _, ix := range want {
		if !ix.Unique || have[ix.Name] {
			continue
		}
		dups, err := duplicates(ctx, tx, cid, ix.Field)
		if err != nil {
			return err
		}
		for _, d := range dups {
			conflicts = append(conflicts, FieldError{Field: ix.Field, Code: CodeDuplicate,
				Message: fmt.Sprintf("value %s is held by %d records", d.Value, d.Records)})
		}
	}
	if conflicts != nil {
		return &UniqueError{Errors: conflicts, existing: true}
	}
	wanted := make(map[string]bool, len(want))
	for _, ix := range want {
		wanted[ix.Name] = true
	}
	for _, n := range present {
		if !wanted[n] {
			if _, err := tx.ExecContext(ctx, `DROP INDEX "`+n+`"`); err != nil {
				return fmt.Errorf("drop index %s: %w", n, err)
			}
		}
	}
	for _, ix := range want {
		if have[ix.Name] {
			continue
		}
		if _, err := tx.ExecContext(ctx, ix.create(cid)); err != nil {
			return fmt.Errorf("create index %s: %w", ix.Name, err)
		}
	}
	return nil
}

// dropIndexes drops every index of a collection.
func dropIndexes(ctx context.Context, tx *sql.Tx, cid string) error {
	present, err := presentIndexes(ctx, tx, cid)
	if err != nil {
		return err
	}
	for _, n := range present {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+n+`"`); err != nil {
			return fmt.Errorf("drop index %s: %w", n, err)
		}
	}
	return nil
}
