package collections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a Publisher that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
	subs   []string
}

func (r *recorder) Publish(subject string, data []byte) error {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.subs = append(r.subs, subject)
	return nil
}

func (r *recorder) take() ([]string, []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, e := r.subs, r.events
	r.subs, r.events = nil, nil
	return s, e
}

func mustRecord(t *testing.T, s *Service, coll, data string) Record {
	t.Helper()
	r, err := s.CreateRecord(context.Background(), coll, nil, json.RawMessage(data))
	if err != nil {
		t.Fatalf("create %s %s: %v", coll, data, err)
	}
	return r
}

func exists(t *testing.T, s *Service, coll, id string) bool {
	t.Helper()
	_, err := s.GetRecord(context.Background(), coll, id)
	if err != nil && !errors.Is(err, ErrRecordNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestReferenceSchemaRules(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	_, err := s.Create(ctx, CreateInput{Name: "books", Label: "B", Schema: json.RawMessage(
		`{"fields": [{"name": "author", "type": "reference", "collection": "authors"}]}`)})
	var se *SchemaError
	if !errors.As(err, &se) || se.Field != "author" || !strings.Contains(se.Message, `"authors" does not exist`) {
		t.Fatalf("reference to a missing collection: %v", err)
	}
	// A collection may refer to itself.
	mustCreate(t, s, "nodes", `{"fields": [{"name": "parent", "type": "reference", "collection": "nodes"}]}`)
	mustCreate(t, s, "authors", `{}`)
	_, err = s.Update(ctx, "authors", UpdateInput{Schema: json.RawMessage(
		`{"fields": [{"name": "mentor", "type": "reference", "collection": "mentors"}]}`)})
	if !errors.As(err, &se) || se.Field != "mentor" {
		t.Fatalf("update to a missing target: %v", err)
	}
	for _, bad := range []string{
		`{"fields": [{"name": "a", "type": "reference", "collection": "authors", "on_delete": "explode"}]}`,
		`{"fields": [{"name": "a", "type": "reference", "collection": "authors", "on_delete": "set_null", "required": true}]}`,
		`{"fields": [{"name": "a", "on_delete": "cascade"}]}`,
		`{"fields": [{"name": "a", "index": "yes"}]}`,
	} {
		if _, err := ParseSchema(json.RawMessage(bad)); !errors.As(err, &se) || se.Field != "a" {
			t.Errorf("ParseSchema(%s) = %v", bad, err)
		}
	}
	sch := mustSchema(t, `{"fields": [{"name": "a", "type": "reference", "collection": "x", "on_delete": "Set_Null"},
		{"name": "b", "type": "reference", "collection": "x"}]}`)
	if sch.Fields[0].OnDelete != OnDeleteSetNull || sch.Fields[1].OnDelete != OnDeleteRestrict {
		t.Fatalf("policies = %q, %q", sch.Fields[0].OnDelete, sch.Fields[1].OnDelete)
	}
}

func TestOnDeletePolicies(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	rec := &recorder{}
	s.SetPublisher(rec)
	mustCreate(t, s, "authors", `{"fields": [{"name": "name"}]}`)
	mustCreate(t, s, "books", `{"fields": [{"name": "title"},
		{"name": "author", "type": "reference", "collection": "authors", "on_delete": "cascade"}]}`)
	mustCreate(t, s, "reviews", `{"fields": [{"name": "book", "type": "reference", "collection": "books",
		"on_delete": "cascade"}, {"name": "quoted", "type": "reference", "collection": "authors", "on_delete": "set_null"}]}`)
	mustCreate(t, s, "awards", `{"fields": [{"name": "book", "type": "reference", "collection": "books"}]}`)

	ann := mustRecord(t, s, "authors", `{"name": "Ann"}`)
	bo := mustRecord(t, s, "authors", `{"name": "Bo"}`)
	b1 := mustRecord(t, s, "books", fmt.Sprintf(`{"title": "one", "author": %q}`, ann.ID))
	b2 := mustRecord(t, s, "books", fmt.Sprintf(`{"title": "two", "author": %q}`, ann.ID))
	r1 := mustRecord(t, s, "reviews", fmt.Sprintf(`{"book": %q, "quoted": %q}`, b1.ID, bo.ID))
	r2 := mustRecord(t, s, "reviews", fmt.Sprintf(`{"quoted": %q}`, ann.ID))
	aw := mustRecord(t, s, "awards", fmt.Sprintf(`{"book": %q}`, b2.ID))
	rec.take()

	// Restrict, reached through a cascade, refuses the whole delete.
	err := s.DeleteRecord(ctx, "authors", ann.ID)
	var re *ReferencedError
	if !errors.As(err, &re) || len(re.Errors) != 1 || re.Errors[0].Field != "awards.book" ||
		re.Errors[0].Code != CodeRestrict {
		t.Fatalf("restricted delete: %v", err)
	}
	if !strings.Contains(err.Error(), "is referenced by awards.book") {
		t.Errorf("message = %q", err.Error())
	}
	for _, id := range []string{ann.ID, b1.ID, b2.ID, r1.ID} {
		if !exists(t, s, collOf(id, ann, b1, b2, r1), id) {
			t.Fatalf("record %s deleted by a refused delete", id)
		}
	}
	if subs, _ := rec.take(); len(subs) != 0 {
		t.Fatalf("events for a refused delete: %v", subs)
	}

	// Without the award: cascade through books to reviews, set null on r2.
	if err := s.DeleteRecord(ctx, "awards", aw.ID); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if err := s.DeleteRecord(ctx, "authors", ann.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{b1.ID, b2.ID} {
		if exists(t, s, "books", id) {
			t.Errorf("book %s survived its author", id)
		}
	}
	if exists(t, s, "reviews", r1.ID) {
		t.Error("review of a deleted book survived")
	}
	got, err := s.GetRecord(ctx, "reviews", r2.ID)
	if err != nil || string(got.Data) != `{"book":null,"quoted":null}` || got.UpdatedAt == r2.UpdatedAt {
		t.Fatalf("set-null review = %s (%s), %v", got.Data, got.UpdatedAt, err)
	}
	subs, events := rec.take()
	want := []string{"authors.delete", "books.delete", "books.delete", "reviews.delete", "reviews.update"}
	if !slices.Equal(subs, want) {
		t.Fatalf("subjects = %v, want %v", subs, want)
	}
	causes := []string{}
	for _, e := range events {
		causes = append(causes, e.Cause)
	}
	if !slices.Equal(causes, []string{"", CauseCascade, CauseCascade, CauseCascade, CauseSetNull}) {
		t.Fatalf("causes = %v", causes)
	}
	if events[0].Record.ID != ann.ID || string(events[0].Record.Data) != `{"name":"Ann"}` {
		t.Fatalf("delete event = %+v", events[0])
	}
}

func collOf(id string, ann, b1, b2, r1 Record) string {
	switch id {
	case ann.ID:
		return "authors"
	case b1.ID, b2.ID:
		return "books"
	}
	return "reviews"
}

func TestSelfReferenceCascade(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "nodes", `{"fields": [{"name": "parent", "type": "reference", "collection": "nodes",
		"on_delete": "cascade"}, {"name": "peer", "type": "reference", "collection": "nodes"}]}`)
	root := mustRecord(t, s, "nodes", `{}`)
	child := mustRecord(t, s, "nodes", fmt.Sprintf(`{"parent": %q}`, root.ID))
	grand := mustRecord(t, s, "nodes", fmt.Sprintf(`{"parent": %q, "peer": %q}`, child.ID, root.ID))
	// The grandchild's restrict reference to root does not block: the
	// grandchild goes too.
	if err := s.DeleteRecord(ctx, "nodes", root.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{root.ID, child.ID, grand.ID} {
		if exists(t, s, "nodes", id) {
			t.Errorf("node %s survived", id)
		}
	}
	// Deleting a collection that only refers to itself is fine.
	if err := s.Delete(ctx, "nodes"); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteReferencedCollection(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "authors", `{}`)
	mustCreate(t, s, "books", `{"fields": [{"name": "author", "type": "reference", "collection": "authors"}]}`)
	err := s.Delete(ctx, "authors")
	var re *ReferencedError
	if !errors.As(err, &re) || re.Errors[0].Field != "books.author" {
		t.Fatalf("delete referenced collection: %v", err)
	}
	if _, err := s.Get(ctx, "authors"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "books", UpdateInput{Schema: json.RawMessage(`{"fields": []}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "authors"); err != nil {
		t.Fatal(err)
	}
}

func TestRecordEvents(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	rec := &recorder{}
	s.SetPublisher(rec)
	mustCreate(t, s, "notes", `{"fields": [{"name": "n", "type": "int"}]}`)
	r := mustRecord(t, s, "notes", `{"n": 1}`)
	if _, err := s.CreateRecord(ctx, "notes", nil, json.RawMessage(`{"n": "x"}`)); err == nil {
		t.Fatal("invalid record accepted")
	}
	if _, err := s.UpdateRecord(ctx, "notes", r.ID, json.RawMessage(`{"n": 2}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, "notes", r.ID); err != nil {
		t.Fatal(err)
	}
	subs, events := rec.take()
	if !slices.Equal(subs, []string{"notes.create", "notes.update", "notes.delete"}) {
		t.Fatalf("subjects = %v", subs)
	}
	if string(events[1].Record.Data) != `{"n":2}` || events[1].Record.ID != r.ID || events[1].At == "" {
		t.Fatalf("update event = %+v", events[1])
	}

	// Events come out in commit order even under concurrency.
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.CreateRecord(ctx, "notes", nil, json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_, events = rec.take()
	p, err := s.ListRecords(ctx, "notes", ListOptions{SortBy: "created_at", SortOrder: "asc", Limit: 100})
	if err != nil || len(events) != 30 || len(p.Records) != 30 {
		t.Fatalf("%d events, %d records, %v", len(events), len(p.Records), err)
	}
	for i := range events {
		if events[i].Record.ID != p.Records[i].ID {
			t.Fatalf("event %d is for %s, commit order has %s", i, events[i].Record.ID, p.Records[i].ID)
		}
	}
}
