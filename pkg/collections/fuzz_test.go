package collections

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var fuzzSchemas = []string{
	`{"fields": [{"name": "s", "min_length": 1, "max_length": 5, "pattern": "^[a-z]+"},
		{"name": "n", "type": "int", "min": -5, "max": 1e18},
		{"name": "x", "type": "float", "default": "1.5"}, {"name": "b", "type": "bool", "required": true},
		{"name": "l", "type": "list[int]", "max_length": 3}, {"name": "a", "type": "array", "min_length": 1},
		{"name": "o", "type": "dict"}, {"name": "d", "type": "date"}, {"name": "t", "type": "datetime", "pattern": "^20"},
		{"name": "r", "type": "reference", "collection": "users"},
		{"name": "ls", "type": "list[string]", "default": ["a"]}]}`,
	`{"fields": []}`,
	`{"fields": [{"name": "x", "type": "LIST[BOOL]", "default": ["yes", 0]}]}`,
	`{"fields": [{"name": "x", "type": "number", "min": 1, "max": 0}]}`,
	`{"fields": [{"name": "_x"}]}`,
	`{"fields": [{"name": "x", "pattern": "(?i)\\bcat\\b", "default": "Cat"}]}`,
}

var fuzzData = []string{
	`{}`,
	`{"s": "abc", "n": "9007199254740993", "b": "on", "l": [1, "2", 3.0],
		"d": "2024-02-29", "t": "2024-02-29T10:00:00+01:00"}`,
	`{"s": "é😀", "n": 5.5, "b": null, "a": [], "o": [], "r": 5, "x": 1e999}`,
	`{"n": -9223372036854775808, "b": 1, "x": "  -0.0 ", "t": "0000-01-01T00:00:00+00:01"}`,
	`[]`, `null`, `"x"`, `{"s": "\ud800", "o": {"k": "\u00ff"}}`,
}

// FuzzParseSchema checks that no schema text makes ParseSchema panic, that
// errors are always *SchemaError, and that an accepted schema can validate.
func FuzzParseSchema(f *testing.F) {
	for _, s := range fuzzSchemas {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseSchema(raw)
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SchemaError", err)
			}
			return
		}
		for _, fld := range s.Fields {
			if canon, ok := canonicalType(fld.Type); !ok || canon != fld.Type {
				t.Fatalf("field %q has non-canonical type %q", fld.Name, fld.Type)
			}
		}
		if _, err := s.Validate(json.RawMessage(`{}`)); err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate error %v is not a *ValidationError", err)
			}
		}
	})
}

// FuzzValidate checks that Validate never panics, returns a JSON object with
// exactly the schema's fields, and is idempotent: validating its own output
// gives the same output.
func FuzzValidate(f *testing.F) {
	for i, s := range fuzzSchemas {
		for _, d := range fuzzData {
			f.Add(s, []byte(d))
		}
		f.Add(fuzzSchemas[i], []byte(`{"x": true}`))
	}
	f.Fuzz(func(t *testing.T, schema string, data []byte) {
		s, err := ParseSchema(json.RawMessage(schema))
		if err != nil {
			return
		}
		out, err := s.Validate(data)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) == 0 {
				t.Fatalf("error %v is not a non-empty *ValidationError", err)
			}
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("output %q is not a JSON object: %v", out, err)
		}
		if len(obj) != len(s.Fields) {
			t.Fatalf("output %s has %d keys, schema has %d fields", out, len(obj), len(s.Fields))
		}
		for _, fld := range s.Fields {
			if _, ok := obj[fld.Name]; !ok {
				t.Fatalf("output %s lacks field %q", out, fld.Name)
			}
		}
		again, err := s.Validate(out)
		if err != nil {
			t.Fatalf("output %s does not validate again: %v", out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("validation not idempotent: %s then %s", out, again)
		}
	})
}

var fuzzFilters = []string{
	`a = 1`, `s = 'x' and (n > 2 or not b = true)`, `tags contains 'go'`, `n in (1, 2.5, -3e2)`,
	`n not in (1)`, "`my field` is not null", `d >= '2024-01-01' && t < '2024-01-01T00:00:00Z'`,
	`!(s contains "a\"b") || x <= -0.5`, `data.n = 9007199254740993`, `created_at > '2020-01-01'`,
	`((((n = 1))))`, `s = 'it\'s \u00e9'`, `arr contains true`, `o is null`, `a =`, `'x`, "`", `1 = a`,
}

// FuzzParseFilter checks that no filter text makes the parser or the
// compiler panic, that errors are *FilterError, that the canonical form of
// a parsed filter parses back to itself, and that a compiled filter is SQL
// that SQLite accepts with exactly its arguments.
func FuzzParseFilter(f *testing.F) {
	for _, s := range fuzzFilters {
		f.Add(s)
	}
	sch, err := ParseSchema(json.RawMessage(filterSchema))
	if err != nil {
		f.Fatal(err)
	}
	db := openTestDB(f)
	f.Fuzz(func(t *testing.T, src string) {
		n, err := parseFilter(src)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Pos < 0 || fe.Pos > len(src) {
				t.Fatalf("parseFilter(%q) error %v is not a *FilterError within the input", src, err)
			}
			return
		}
		canon := filterString(n)
		n2, err := parseFilter(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again := filterString(n2); again != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again)
		}
		cond, args, err := compileFilter(sch, src)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("compileFilter(%q) error %v is not a *FilterError", src, err)
			}
			return
		}
		if got := strings.Count(cond, "?"); got != len(args) {
			t.Fatalf("compileFilter(%q) = %q with %d placeholders and %d args", src, cond, got, len(args))
		}
		rows, err := db.R.Query(`SELECT r.id FROM records r WHERE r.collection_id = 'x' AND `+cond, args...)
		if err != nil {
			t.Fatalf("compileFilter(%q) = %q: SQLite refuses it: %v", src, cond, err)
		}
		rows.Close()
	})
}
