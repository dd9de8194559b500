package collections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestRecordCRUD(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "tasks", `{"fields": [{"name": "title", "required": true},
		{"name": "done", "type": "bool", "default": false},
		{"name": "count", "type": "int"}]}`)
	mustCreate(t, s, "other", `{}`)
	owner := addUser(t, db, "a@example.com")

	r, err := s.CreateRecord(ctx, "tasks", &owner, json.RawMessage(`{"title": "write", "extra": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != `{"title":"write","done":false,"count":null}` || r.OwnerID == nil || *r.OwnerID != owner {
		t.Fatalf("created = %+v data %s", r, r.Data)
	}
	got, err := s.GetRecord(ctx, "tasks", r.ID)
	if err != nil || string(got.Data) != string(r.Data) || got.CreatedAt != r.CreatedAt || *got.OwnerID != owner ||
		got.CollectionID != r.CollectionID {
		t.Fatalf("GetRecord = %+v, %v", got, err)
	}

	// Shallow merge, then the whole record is validated again.
	up, err := s.UpdateRecord(ctx, "tasks", r.ID, json.RawMessage(`{"done": "yes", "count": "3"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(up.Data) != `{"title":"write","done":true,"count":3}` ||
		up.CreatedAt != r.CreatedAt || up.UpdatedAt < r.UpdatedAt {
		t.Fatalf("updated = %+v data %s", up, up.Data)
	}
	_, err = s.UpdateRecord(ctx, "tasks", r.ID, json.RawMessage(`{"title": null}`))
	if !slices.Equal(errorKeys(t, err), []string{"title:required"}) {
		t.Fatalf("null required field: %v", err)
	}
	_, err = s.UpdateRecord(ctx, "tasks", r.ID, json.RawMessage(`"x"`))
	if !slices.Equal(errorKeys(t, err), []string{":type"}) {
		t.Fatalf("non-object patch: %v", err)
	}
	got, _ = s.GetRecord(ctx, "tasks", r.ID)
	if string(got.Data) != string(up.Data) {
		t.Fatalf("failed update changed the record: %s", got.Data)
	}

	if _, err := s.CreateRecord(ctx, "tasks", nil, json.RawMessage(`{"done": 5}`)); !slices.Equal(errorKeys(t, err),
		[]string{"title:required", "done:type"}) {
		t.Fatalf("invalid record: %v", err)
	}

	// Not found: unknown collection, unknown id, record of another collection.
	notFound := []struct {
		name string
		err  error
		is   error
		msg  string
	}{
		{"create in unknown collection",
			second(s.CreateRecord(ctx, "nope", nil, json.RawMessage(`{}`))),
			ErrCollectionNotFound, "Collection 'nope' not found"},
		{"get in unknown collection",
			second(s.GetRecord(ctx, "nope", r.ID)), ErrCollectionNotFound, "Collection 'nope' not found"},
		{"get unknown id", second(s.GetRecord(ctx, "tasks", "00000000-0000-0000-0000-000000000000")), ErrRecordNotFound,
			"Record '00000000-0000-0000-0000-000000000000' not found"},
		{"get via other collection",
			second(s.GetRecord(ctx, "other", r.ID)), ErrRecordNotFound, "Record '" + r.ID + "' not found"},
		{"update via other collection",
			second(s.UpdateRecord(ctx, "other", r.ID, json.RawMessage(`{}`))), ErrRecordNotFound, ""},
		{"delete via other collection", s.DeleteRecord(ctx, "other", r.ID), ErrRecordNotFound, ""},
		{"delete in unknown collection", s.DeleteRecord(ctx, "nope", r.ID), ErrCollectionNotFound, ""},
		{"owner does not exist",
			second(s.CreateRecord(ctx, "tasks", ptr("no-such-user"), json.RawMessage(`{"title": "x"}`))),
			ErrOwnerNotFound, ""},
	}
	for _, tt := range notFound {
		if !errors.Is(tt.err, tt.is) {
			t.Errorf("%s: error = %v, want %v", tt.name, tt.err, tt.is)
		} else if tt.msg != "" && tt.err.Error() != tt.msg {
			t.Errorf("%s: message = %q, want %q", tt.name, tt.err.Error(), tt.msg)
		}
	}

	if err := s.DeleteRecord(ctx, "tasks", r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRecord(ctx, "tasks", r.ID); !errors.Is(err, ErrRecordNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := s.DeleteRecord(ctx, "tasks", r.ID); !errors.Is(err, ErrRecordNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func ptr(s string) *string { return &s }

func TestRecordOwnerSurvivesUserDeletion(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "notes", `{}`)
	u := addUser(t, db, "gone@example.com")
	r, err := s.CreateRecord(ctx, "notes", &u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`DELETE FROM users WHERE id = ?`, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRecord(ctx, "notes", r.ID)
	if err != nil || got.OwnerID != nil {
		t.Fatalf("record after owner deletion = %+v, %v", got, err)
	}
}

func TestListRecords(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "notes", `{"fields": [{"name": "i", "type": "int"}]}`)
	mustCreate(t, s, "other", `{"fields": [{"name": "i", "type": "int"}]}`)
	alice, bob := addUser(t, db, "alice@example.com"), addUser(t, db, "bob@example.com")
	var ids []string
	for i := range 10 {
		owner := &alice
		if i%3 == 0 {
			owner = &bob
		}
		r, err := s.CreateRecord(ctx, "notes", owner, json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, err := s.CreateRecord(ctx, "other", nil, json.RawMessage(`{"i": 99}`)); err != nil {
		t.Fatal(err)
	}
	// Touch record 2 so that it is the most recently updated.
	if _, err := s.UpdateRecord(ctx, "notes", ids[2], json.RawMessage(`{"i": 2}`)); err != nil {
		t.Fatal(err)
	}

	// indexes maps a page back to creation indexes.
	indexes := func(p Page) []int {
		var out []int
		for _, r := range p.Records {
			out = append(out, slices.Index(ids, r.ID))
		}
		return out
	}
	tests := []struct {
		name       string
		o          ListOptions
		want       []int
		wantTotal  int
		wantLimit  int
		wantOffset int
	}{
		{"default newest first", ListOptions{}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10, 100, 0},
		{"limit", ListOptions{Limit: 3}, []int{9, 8, 7}, 10, 3, 0},
		{"offset", ListOptions{Limit: 3, Offset: 3}, []int{6, 5, 4}, 10, 3, 3},
		{"offset past end", ListOptions{Offset: 20}, nil, 10, 100, 20},
		{"created asc", ListOptions{SortBy: "created_at", SortOrder: "asc", Limit: 4}, []int{0, 1, 2, 3}, 10, 4, 0},
		{"updated desc", ListOptions{SortBy: "updated_at", Limit: 2}, []int{2, 9}, 10, 2, 0},
		{"unknown sort_by ignores order",
			ListOptions{SortBy: "nope", SortOrder: "asc", Limit: 2}, []int{9, 8}, 10, 2, 0},
		{"data field asc", ListOptions{SortBy: "data.i", SortOrder: "asc", Limit: 2}, []int{0, 1}, 10, 2, 0},
		{"data field by bare name", ListOptions{SortBy: "i", Limit: 2}, []int{9, 8}, 10, 2, 0},
		{"owner filter", ListOptions{OwnerID: &bob}, []int{9, 6, 3, 0}, 4, 100, 0},
		{"owner filter paged", ListOptions{OwnerID: &alice, Limit: 2, Offset: 1}, []int{7, 5}, 6, 2, 1},
		{"max limit", ListOptions{Limit: 1000}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.ListRecords(ctx, "notes", tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := indexes(p); !slices.Equal(got, tt.want) {
				t.Errorf("records = %v, want %v", got, tt.want)
			}
			if *p.Total != tt.wantTotal || p.Limit != tt.wantLimit || p.Offset != tt.wantOffset {
				t.Errorf("total/limit/offset = %d/%d/%d, want %d/%d/%d", *p.Total, p.Limit, p.Offset,
					tt.wantTotal, tt.wantLimit, tt.wantOffset)
			}
			if p.Records == nil {
				t.Error("Records is nil; it must encode as []")
			}
		})
	}

	bad := []struct {
		o     ListOptions
		field string
	}{
		{ListOptions{Limit: -1}, "limit"},
		{ListOptions{Limit: 1001}, "limit"},
		{ListOptions{Offset: -1}, "offset"},
		{ListOptions{SortOrder: "up"}, "sort_order"},
	}
	for _, b := range bad {
		if _, err := s.ListRecords(ctx, "notes", b.o); !isInputError(b.field)(err) {
			t.Errorf("ListRecords(%+v) error = %v, want InputError on %s", b.o, err, b.field)
		}
	}
	if _, err := s.ListRecords(ctx, "nope", ListOptions{}); !errors.Is(err, ErrCollectionNotFound) {
		t.Errorf("unknown collection: %v", err)
	}
}

func TestReferences(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "authors", `{"fields": [{"name": "name"}]}`)
	mustCreate(t, s, "decoys", `{}`)
	mustCreate(t, s, "books", `{"fields": [{"name": "title"},
		{"name": "author", "type": "reference", "collection": "authors"},
		{"name": "editor", "type": "reference", "collection": "authors", "required": true}]}`)
	a, err := s.CreateRecord(ctx, "authors", nil, json.RawMessage(`{"name": "Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	decoy, err := s.CreateRecord(ctx, "decoys", nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		data     string
		wantErrs []string
	}{
		{"existing target", fmt.Sprintf(`{"author": %q, "editor": %q}`, a.ID, a.ID), nil},
		{"optional reference absent", fmt.Sprintf(`{"editor": %q}`, a.ID), nil},
		{"missing target", fmt.Sprintf(`{"author": "00000000-0000-0000-0000-000000000000", "editor": %q}`, a.ID),
			[]string{"author:reference"}},
		{"record of another collection", fmt.Sprintf(`{"author": %q, "editor": %q}`, decoy.ID, a.ID),
			[]string{"author:reference"}},
		{"required reference missing and bad type", `{"author": 5}`, []string{"author:type", "editor:required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.CreateRecord(ctx, "books", nil, json.RawMessage(tt.data))
			if tt.wantErrs == nil {
				if err != nil {
					t.Fatalf("CreateRecord: %v", err)
				}
				if _, err := s.GetRecord(ctx, "books", r.ID); err != nil {
					t.Fatal(err)
				}
				return
			}
			if keys := errorKeys(t, err); !slices.Equal(keys, tt.wantErrs) {
				t.Fatalf("errors = %v, want %v", keys, tt.wantErrs)
			}
		})
	}

	// Updates re-check references: a reference whose target is gone (here
	// removed behind the service's back) must be repointed before the
	// record can change.
	b, err := s.CreateRecord(ctx, "books", nil, json.RawMessage(fmt.Sprintf(`{"author": %q, "editor": %q}`, a.ID, a.ID)))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.CreateRecord(ctx, "authors", nil, json.RawMessage(`{"name": "Bo"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`DELETE FROM records WHERE id = ?`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRecord(ctx, "books", b.ID, json.RawMessage(`{"title": "T"}`)); !slices.Equal(errorKeys(t, err),
		[]string{"author:reference", "editor:reference"}) {
		t.Fatalf("update with dangling references: %v", err)
	}
	patch := fmt.Sprintf(`{"author": %q, "editor": %q}`, a2.ID, a2.ID)
	if _, err := s.UpdateRecord(ctx, "books", b.ID, json.RawMessage(patch)); err != nil {
		t.Fatalf("repointing references: %v", err)
	}
}

func TestDeleteCollectionCascades(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "doomed", `{"fields": [{"name": "i", "type": "int"}]}`)
	mustCreate(t, s, "kept", `{}`)
	for i := range 5 {
		if _, err := s.CreateRecord(ctx, "doomed", nil, json.RawMessage(fmt.Sprintf(`{"i": %d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := s.CreateRecord(ctx, "kept", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM records`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("records left = %d, %v; want only the other collection's", n, err)
	}
	if _, err := s.GetRecord(ctx, "kept", kept.ID); err != nil {
		t.Fatal(err)
	}
	// A new collection of the same name starts empty with its own schema.
	mustCreate(t, s, "doomed", `{"fields": [{"name": "s"}]}`)
	p, err := s.ListRecords(ctx, "doomed", ListOptions{})
	if err != nil || *p.Total != 0 {
		t.Fatalf("recreated collection: %+v, %v", p, err)
	}
	r, err := s.CreateRecord(ctx, "doomed", nil, json.RawMessage(`{"s": "x", "i": 1}`))
	if err != nil || string(r.Data) != `{"s":"x"}` {
		t.Fatalf("record in recreated collection = %s, %v", r.Data, err)
	}
}

func TestConcurrentRecordWrites(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "counters", `{"fields": [{"name": "i", "type": "int", "required": true}]}`)
	const workers, each = 4, 10
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				data := json.RawMessage(fmt.Sprintf(`{"i": %d}`, w*each+i))
				if _, err := s.CreateRecord(ctx, "counters", nil, data); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Every write returned after commit, so all are visible to a fresh read.
	p, err := s.ListRecords(ctx, "counters", ListOptions{Limit: 1000})
	if err != nil || *p.Total != workers*each || len(p.Records) != workers*each {
		t.Fatalf("total = %d, records = %d, %v", *p.Total, len(p.Records), err)
	}
}

// TestCollectionCounts checks the trigger-kept counts that unfiltered
// listings report against real counts through creates, cascades and a
// collection delete.
func TestCollectionCounts(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "a", `{}`)
	mustCreate(t, s, "b", `{"fields": [{"name": "a", "type": "reference", "collection": "a", "on_delete": "cascade"}]}`)
	check := func() {
		t.Helper()
		rows, err := db.R.Query(`SELECT c.name, n.records, (SELECT COUNT(*) FROM records r WHERE r.collection_id = c.id)
			FROM collections c JOIN collection_counts n ON n.collection_id = c.id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var kept, real int
			if err := rows.Scan(&name, &kept, &real); err != nil {
				t.Fatal(err)
			}
			if kept != real {
				t.Errorf("%s: kept count %d, real %d", name, kept, real)
			}
			p, err := s.ListRecords(ctx, name, ListOptions{Limit: 1})
			if err != nil || *p.Total != real {
				t.Errorf("%s: listed total %v, real %d (%v)", name, p.Total, real, err)
			}
		}
	}
	var as []Record
	for range 3 {
		as = append(as, mustRecord(t, s, "a", `{}`))
	}
	for i := range 5 {
		mustRecord(t, s, "b", fmt.Sprintf(`{"a": %q}`, as[i%3].ID))
	}
	check()
	if err := s.DeleteRecord(ctx, "a", as[0].ID); err != nil {
		t.Fatal(err)
	}
	check()
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	check()
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM collection_counts`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count rows = %d, %v", n, err)
	}
}
