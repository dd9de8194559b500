package collections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a = 1`, `a = 1`},
		{`a == 'x' and b > 2`, `(a = 'x' and b > 2)`},
		{`A = 1 AND B <> 2 Or c <= -1.5e3`, `((A = 1 and B != 2) or c <= -1.5e3)`},
		{`not (a = 1 or b != 2)`, `not (a = 1 or b != 2)`},
		{`!a = 1 && b = 2 || c = 3`, `((not a = 1 and b = 2) or c = 3)`},
		{`a in (1, 'two', true)`, `a in (1, 'two', true)`},
		{`a not in ('x')`, `a not in ('x')`},
		{`tags contains "go"`, `tags contains 'go'`},
		{`title not contains 'x'`, `title not contains 'x'`},
		{`a is null or b is NOT null`, `(a is null or b is not null)`},
		{"`weird name.x` = false", "`weird name.x` = false"},
		{`data.a >= 0`, `data.a >= 0`},
		{`a = 'it\'s \\ "q" \n \u00e9'`, `a = 'it\'s \\ "q" \n é'`},
		{`((a = 1))`, `a = 1`},
		{`é = 'ü'`, `é = 'ü'`},
	}
	for _, tt := range tests {
		n, err := parseFilter(tt.in)
		if err != nil {
			t.Errorf("parseFilter(%s): %v", tt.in, err)
			continue
		}
		if got := filterString(n); got != tt.want {
			t.Errorf("parseFilter(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string
		wantPos int
	}{
		{``, "unexpected end", 0},
		{`a`, "unexpected end, expected an operator", 1},
		{`a =`, "expected a value", 3},
		{`a = null`, "using 'is null'", 4},
		{`= 1`, "expected a field name", 0},
		{`a = 1 and`, "unexpected end", 9},
		{`(a = 1`, "expected ')'", 6},
		{`a = 1)`, `unexpected ")"`, 5},
		{`a in ()`, "expected a value", 6},
		{`a in (1,`, "unexpected end", 8},
		{`a & b`, `use &&`, 2},
		{`a = 'open`, "unterminated string", 4},
		{`a = 01`, "invalid number", 4},
		{`a = 1e`, "invalid number", 4},
		{`and = 1`, "expected a field name", 0},
		{`a = 'x' b = 1`, "expected and, or or the end", 8},
		{`a.. = 1`, "invalid field name", 0},
		{`a = 'x\q'`, "unknown escape", 6},
		{`a is 1`, "expected null", 5},
		{`a not = 1`, "expected in or contains", 6},
		{"`` = 1", "empty", 0},
		{`a = #`, "unexpected character", 4},
		{strings.Repeat("(", 40) + "a = 1" + strings.Repeat(")", 40), "nested deeper", 32},
		{strings.Repeat("a = 1 and ", 130) + "a = 1", "more than 128 conditions", 1280},
		{"a = '" + strings.Repeat("x", MaxFilterLength) + "'", "longer than", MaxFilterLength},
		{"a = '\xff'", "UTF-8", 0},
	}
	for _, tt := range tests {
		_, err := parseFilter(tt.in)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("parseFilter(%.40s) error = %v, want *FilterError", tt.in, err)
			continue
		}
		if !strings.Contains(fe.Message, tt.wantMsg) || fe.Pos != tt.wantPos {
			t.Errorf("parseFilter(%.40s) = %q at %d, want %q at %d", tt.in, fe.Message, fe.Pos, tt.wantMsg, tt.wantPos)
		}
	}
}

const filterSchema = `{"fields": [{"name": "name", "required": true}, {"name": "s"}, {"name": "n", "type": "int"},
	{"name": "x", "type": "number"}, {"name": "b", "type": "bool"}, {"name": "d", "type": "date"},
	{"name": "t", "type": "datetime"}, {"name": "tags", "type": "list[string]"}, {"name": "nums", "type": "list[int]"},
	{"name": "arr", "type": "array"}, {"name": "o", "type": "object"}, {"name": "created_at", "type": "int"},
	{"name": "my field"}]}`

func TestFilterRecords(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "f", filterSchema)
	for _, d := range []string{
		`{"name": "r1", "s": "apple pie", "n": 9007199254740993, "x": 1.5, "b": true, "d": "2024-01-31",
			"t": "2024-01-31T10:00:00+02:00", "tags": ["go", "sql"], "nums": [1, 2], "arr": [1, "a", true],
			"o": {"k": 1}, "created_at": 5, "my field": "m"}`,
		`{"name": "r2", "s": "banana", "n": 9007199254740992, "x": -2, "b": false, "d": "2024-02-01",
			"t": "2024-01-31T09:00:00Z", "tags": ["rust"], "nums": [3], "arr": ["go"]}`,
		`{"name": "r3", "s": "Apple", "n": 7, "x": 0, "tags": []}`,
		`{"name": "r4"}`,
	} {
		mustRecord(t, s, "f", d)
	}
	tests := []struct {
		filter string
		want   string // names, comma separated
	}{
		{`n = 9007199254740993`, "r1"},
		{`n = 9007199254740992`, "r2"},
		{`n > 9007199254740992`, "r1"},
		{`n < 100 or n is null`, "r3,r4"},
		{`n != 7`, "r1,r2"},
		{`not n = 7`, "r1,r2,r4"},
		{`not (n = 7 or s = 'banana')`, "r1,r4"},
		{`not (n = 7 and s = 'banana')`, "r1,r2,r3,r4"},
		{`n in (7, 9007199254740993)`, "r1,r3"},
		{`n not in (7)`, "r1,r2"},
		{`not n in (7)`, "r1,r2,r4"},
		{`not n not in (7)`, "r3,r4"},
		{`x >= 0`, "r1,r3"},
		{`x = 1.5 and x < 2`, "r1"},
		{`x > -3 and x < 0.5`, "r2,r3"},
		{`b = true`, "r1"},
		{`b != true`, "r2"},
		{`not b = true`, "r2,r3,r4"},
		{`s contains 'pple'`, "r1,r3"},
		{`s contains 'APPLE'`, ""},
		{`s not contains 'pie'`, "r2,r3"},
		{`not s contains 'pie'`, "r2,r3,r4"},
		{`s >= 'b'`, "r2"},
		{`s in ('banana', 'Apple')`, "r2,r3"},
		{`d = '2024-01-31'`, "r1"},
		{`d > '2024-01-31T00:00:00Z'`, "r2"},
		{`t < '2024-01-31T09:30:00Z'`, "r1,r2"},
		{`t = '2024-01-31T08:00:00Z'`, "r1"},
		{`tags contains 'go'`, "r1"},
		{`not tags contains 'go'`, "r2,r3,r4"},
		{`tags not contains 'go'`, "r2,r3,r4"},
		{`nums contains 3`, "r2"},
		{`arr contains 'go' or arr contains true`, "r1,r2"},
		{`arr contains 1`, "r1"},
		{`o is not null`, "r1,r2,r3,r4"}, // absent objects are stored as {}
		{`tags is null`, ""},             // and absent lists as []
		{`x is null`, "r4"},
		{"`my field` = 'm'", "r1"},
		{`data.created_at = 5`, "r1"},
		{`created_at > '2000-01-01'`, "r1,r2,r3,r4"},
		{`id = 'nope'`, ""},
		{`owner_id is null`, "r1,r2,r3,r4"},
		{`name = 'r1' || name = 'r4'`, "r1,r4"},
	}
	for _, tt := range tests {
		p, err := s.ListRecords(ctx, "f", ListOptions{Filter: tt.filter, SortBy: "name", SortOrder: "asc"})
		if err != nil {
			t.Errorf("filter %s: %v", tt.filter, err)
			continue
		}
		var names []string
		for _, r := range p.Records {
			var d struct{ Name string }
			_ = json.Unmarshal(r.Data, &d)
			names = append(names, d.Name)
		}
		if got := strings.Join(names, ","); got != tt.want || *p.Total != len(names) {
			t.Errorf("filter %s = %q (total %d), want %q", tt.filter, got, *p.Total, tt.want)
		}
	}

	bad := []struct{ filter, msg string }{
		{`nope = 1`, `unknown field "nope"`},
		{`n = 'x'`, "n is a number"},
		{`n = 1e400`, "out of range"},
		{`s = 1`, "s is a string"},
		{`b > true`, "use = or !="},
		{`b = 1`, "b is a boolean"},
		{`d = 'soon'`, "must be a date"},
		{`tags = 'x'`, "can only be tested with is null or contains"},
		{`o contains 'x'`, "contains applies to strings and arrays"},
		{`nums contains 'x'`, "nums item is a number"},
		{`n contains 1`, "contains applies"},
		{`a = `, "expected a value"},
	}
	for _, b := range bad {
		_, err := s.ListRecords(ctx, "f", ListOptions{Filter: b.filter})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "filter" || !strings.Contains(ie.Message, b.msg) {
			t.Errorf("filter %s: error %v, want filter error with %q", b.filter, err, b.msg)
		}
	}
}

func TestFilterUsesFieldIndex(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	c := mustCreate(t, s, "items", `{"fields": [{"name": "sku", "index": true}, {"name": "k", "type": "int", "unique": true}]}`)
	sch := mustSchema(t, string(c.Schema))
	for _, tt := range []struct{ filter, index string }{
		{`sku = 'a'`, indexName(c.ID, "sku", false)},
		{`k >= 5 and k < 10`, indexName(c.ID, "k", true)},
		{`k in (1, 2)`, indexName(c.ID, "k", true)},
	} {
		cond, args, err := compileFilter(sch, tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		// EXPLAIN does not check the schema cookie, so ask the connection
		// that made the index rather than a reader that may not know it yet.
		rows, err := db.W.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT r.id FROM records r WHERE `+
			collectionTerm(c.ID)+` AND `+cond, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), tt.index) {
			t.Errorf("filter %s: plan %q does not use %s", tt.filter, plan, tt.index)
		}
	}
}

func TestCursorPagination(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "p", `{"fields": [{"name": "i", "type": "int"}, {"name": "g", "type": "int", "index": true},
		{"name": "s"}]}`)
	alice := addUser(t, db, "alice@example.com")
	const n = 53
	for i := range n {
		g := fmt.Sprint(i % 4)
		if i%5 == 0 {
			g = "null" // nulls sort first ascending, last descending
		}
		owner := (*string)(nil)
		if i%2 == 0 {
			owner = &alice
		}
		data := fmt.Sprintf(`{"i": %d, "g": %s, "s": %q}`, i, g, fmt.Sprintf("v%02d", i%7))
		if _, err := s.CreateRecord(ctx, "p", owner, json.RawMessage(data)); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(o ListOptions) []int {
		t.Helper()
		var out []int
		for page := 0; ; page++ {
			p, err := s.ListRecords(ctx, "p", o)
			if err != nil {
				t.Fatalf("%+v: %v", o, err)
			}
			for _, r := range p.Records {
				var d struct{ I int }
				_ = json.Unmarshal(r.Data, &d)
				out = append(out, d.I)
			}
			if p.NextCursor == nil {
				if len(p.Records) > o.Limit {
					t.Fatalf("page of %d", len(p.Records))
				}
				return out
			}
			if len(p.Records) != o.Limit || page > n {
				t.Fatalf("short page %d with a cursor", len(p.Records))
			}
			o.After = *p.NextCursor
		}
	}
	all := func(o ListOptions) []int {
		o.Limit = MaxLimit
		p, err := s.ListRecords(ctx, "p", o)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, r := range p.Records {
			var d struct{ I int }
			_ = json.Unmarshal(r.Data, &d)
			out = append(out, d.I)
		}
		return out
	}
	for _, o := range []ListOptions{
		{Limit: 7},
		{Limit: 10, SortBy: "created_at", SortOrder: "asc"},
		{Limit: 4, SortBy: "g", SortOrder: "asc"},
		{Limit: 4, SortBy: "g", SortOrder: "desc"},
		{Limit: 3, SortBy: "s", SortOrder: "asc", Filter: "i >= 10"},
		{Limit: 5, SortBy: "updated_at", OwnerID: &alice, SkipTotal: true},
		{Limit: 1, SortBy: "g", Filter: "g is null"},
	} {
		got, want := walk(o), all(o)
		if !slices.Equal(got, want) {
			t.Errorf("%+v: cursor walk %v, one page %v", o, got, want)
		}
		seen := slices.Clone(got)
		sort.Ints(seen)
		if len(slices.Compact(seen)) != len(got) {
			t.Errorf("%+v: duplicates in walk %v", o, got)
		}
	}
	// Sorting by g ascending puts nulls first.
	if got := all(ListOptions{SortBy: "g", SortOrder: "asc"}); got[0] != 0 || got[1] != 5 {
		t.Errorf("ascending by g starts %v", got[:3])
	}

	p, err := s.ListRecords(ctx, "p", ListOptions{Limit: 2, SortBy: "g"})
	if err != nil || p.NextCursor == nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		o     ListOptions
		field string
	}{
		{ListOptions{After: *p.NextCursor, SortBy: "g", SortOrder: "asc"}, "after"},
		{ListOptions{After: *p.NextCursor}, "after"},
		{ListOptions{After: "!!!"}, "after"},
		{ListOptions{After: "e30"}, "after"},
		{ListOptions{After: *p.NextCursor, SortBy: "g", Offset: 3}, "offset"},
		{ListOptions{SortBy: "tags"}, ""},
	} {
		_, err := s.ListRecords(ctx, "p", tt.o)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.o, err)
			}
			continue
		}
		if !isInputError(tt.field)(err) {
			t.Errorf("%+v: error %v, want input error on %s", tt.o, err, tt.field)
		}
	}
	// A cursor belongs to its collection.
	if _, err := s.Create(ctx, CreateInput{Name: "q", Label: "Q", Schema: json.RawMessage(`{"fields":[{"name":"g","type":"integer"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListRecords(ctx, "q", ListOptions{After: *p.NextCursor, SortBy: "g"}); !isInputError("after")(err) {
		t.Errorf("cursor of another collection: %v", err)
	}
	// Skipping the total; an offset past the end still counts.
	p, err = s.ListRecords(ctx, "p", ListOptions{SkipTotal: true, Limit: 5})
	if err != nil || p.Total != nil || len(p.Records) != 5 {
		t.Fatalf("skip total: %+v, %v", p, err)
	}
	p, err = s.ListRecords(ctx, "p", ListOptions{Offset: 1000})
	if err != nil || *p.Total != n || len(p.Records) != 0 || p.NextCursor != nil {
		t.Fatalf("offset past end: %+v, %v", p, err)
	}
}

func TestSortByObjectRefused(t *testing.T) {
	s, _ := newTestService(t)
	mustCreate(t, s, "o", `{"fields": [{"name": "o", "type": "object"}, {"name": "l", "type": "list[int]"}]}`)
	for _, by := range []string{"o", "data.l"} {
		if _, err := s.ListRecords(context.Background(), "o", ListOptions{SortBy: by}); !isInputError("sort_by")(err) {
			t.Errorf("sort by %s: %v", by, err)
		}
	}
}
