package collections

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tinybase/tinybase/pkg/store"
)

func indexNames(t *testing.T, s *Service, name string) []string {
	t.Helper()
	c, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	names, err := presentIndexes(context.Background(), s.db.R, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func uniqueFields(t *testing.T, err error) []string {
	t.Helper()
	var ue *UniqueError
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v, want *UniqueError", err)
	}
	var out []string
	for _, fe := range ue.Errors {
		out = append(out, fe.Field+":"+fe.Code)
	}
	return out
}

func TestUniqueFields(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	c := mustCreate(t, s, "people", `{"fields": [{"name": "email", "unique": true},
		{"name": "n", "type": "int", "unique": true}, {"name": "nick"}]}`)
	if got := indexNames(t, s, "people"); len(got) != 2 {
		t.Fatalf("indexes = %v, want 2", got)
	}
	if _, err := s.CreateRecord(ctx, "people", nil, json.RawMessage(`{"email": "a@x", "n": 9007199254740993}`)); err != nil {
		t.Fatal(err)
	}
	// Both conflicts are named; integers compare exactly, so 9007199254740992 is free.
	_, err := s.CreateRecord(ctx, "people", nil, json.RawMessage(`{"email": "a@x", "n": "9007199254740993"}`))
	if got := uniqueFields(t, err); !slices.Equal(got, []string{"email:unique", "n:unique"}) {
		t.Fatalf("conflicts = %v", got)
	}
	if !strings.HasPrefix(err.Error(), "Unique constraint failed: email: ") {
		t.Errorf("message = %q", err.Error())
	}
	b, err := s.CreateRecord(ctx, "people", nil, json.RawMessage(`{"email": "b@x", "n": 9007199254740992}`))
	if err != nil {
		t.Fatal(err)
	}
	// Nulls never conflict.
	for range 2 {
		if _, err := s.CreateRecord(ctx, "people", nil, json.RawMessage(`{"nick": "z"}`)); err != nil {
			t.Fatal(err)
		}
	}
	// An update may keep its own value but not take another's.
	if _, err := s.UpdateRecord(ctx, "people", b.ID, json.RawMessage(`{"nick": "b"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateRecord(ctx, "people", b.ID, json.RawMessage(`{"email": "a@x"}`))
	if got := uniqueFields(t, err); !slices.Equal(got, []string{"email:unique"}) {
		t.Fatalf("update conflicts = %v", got)
	}

	// The index is the last line of defence: a write that skips the
	// pre-check still fails, and is reported on the right field.
	_, err = s.db.W.Exec(`INSERT INTO records (id, collection_id, data, created_at, updated_at)
		VALUES ('x', ?, '{"email":"a@x"}', '', '')`, c.ID)
	if idx, ok := store.UniqueViolation(err); !ok || idx != indexName(c.ID, "email", true) {
		t.Fatalf("direct insert error = %v", err)
	}
	sch, _ := ParseSchema(c.Schema)
	if got := uniqueFields(t, writeErr(err, c.ID, sch)); !slices.Equal(got, []string{"email:unique"}) {
		t.Fatalf("mapped = %v", got)
	}
}

func TestConcurrentUniqueCreates(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "handles", `{"fields": [{"name": "h", "unique": true, "required": true}]}`)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateRecord(ctx, "handles", nil, json.RawMessage(`{"h": "same"}`))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if got := uniqueFields(t, err); !slices.Equal(got, []string{"h:unique"}) {
			t.Errorf("loser error = %v", err)
		}
	}
	var rows int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM records`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if ok != 1 || rows != 1 {
		t.Fatalf("%d successes, %d rows; want 1 and 1", ok, rows)
	}
}

func TestUniqueSchemaChanges(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "tags", `{"fields": [{"name": "t"}, {"name": "k", "type": "int"}]}`)
	for _, d := range []string{`{"t": "a", "k": 1}`, `{"t": "a", "k": 2}`, `{"t": "b", "k": 1.0}`, `{"t": "b"}`,
		`{"t": "a"}`, `{"t": "c"}`} {
		if _, err := s.CreateRecord(ctx, "tags", nil, json.RawMessage(d)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := s.Get(ctx, "tags")
	_, err := s.Update(ctx, "tags", UpdateInput{Schema: json.RawMessage(
		`{"fields": [{"name": "t", "unique": true}, {"name": "k", "type": "int", "unique": true}]}`)})
	var ue *UniqueError
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v, want *UniqueError", err)
	}
	var got []string
	for _, fe := range ue.Errors {
		got = append(got, fe.Field+" "+fe.Message)
	}
	want := []string{`t value "a" is held by 3 records`, `t value "b" is held by 2 records`,
		`k value 1 is held by 2 records`}
	if !slices.Equal(got, want) {
		t.Fatalf("duplicates = %q, want %q", got, want)
	}
	if !strings.HasPrefix(err.Error(), "Invalid schema: ") {
		t.Errorf("message = %q", err.Error())
	}
	// Nothing changed: schema, indexes.
	after, _ := s.Get(ctx, "tags")
	if string(after.Schema) != string(before.Schema) || after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("schema changed: %s", after.Schema)
	}
	if got := indexNames(t, s, "tags"); len(got) != 0 {
		t.Fatalf("indexes after refused change = %v", got)
	}

	// A field without duplicates can become unique, and stops being so.
	if _, err := s.Update(ctx, "tags", UpdateInput{Schema: json.RawMessage(
		`{"fields": [{"name": "t"}, {"name": "k", "type": "int"}, {"name": "z", "unique": true, "index": true}]}`)}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Get(ctx, "tags")
	if got := indexNames(t, s, "tags"); !slices.Equal(got, []string{indexName(c.ID, "z", true)}) {
		t.Fatalf("indexes = %v", got)
	}
	if _, err := s.Update(ctx, "tags", UpdateInput{Schema: json.RawMessage(
		`{"fields": [{"name": "t", "index": true}, {"name": "z"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, s, "tags"); !slices.Equal(got, []string{indexName(c.ID, "t", false)}) {
		t.Fatalf("indexes = %v", got)
	}
	// Deleting the collection drops its indexes.
	if err := s.Delete(ctx, "tags"); err != nil {
		t.Fatal(err)
	}
	left, err := presentIndexes(ctx, s.db.R, c.ID)
	if err != nil || len(left) != 0 {
		t.Fatalf("indexes after delete = %v, %v", left, err)
	}
}

func TestIndexNames(t *testing.T) {
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	a, b := indexName(id, "Email", true), indexName(id, "email", true)
	if a == b || !strings.HasPrefix(a, indexPrefix(id)) {
		t.Fatalf("names %q and %q", a, b)
	}
	if got := indexName(id, `we"ird name.with/stuff`, false); strings.ContainsAny(got, `"./ `) {
		t.Fatalf("name %q", got)
	}
}
