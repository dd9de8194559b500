package collections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestCollectionStatus(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	authors := mustCreate(t, s, "authors", `{"fields": [{"name": "name", "unique": true}]}`)
	books := mustCreate(t, s, "books", `{"fields": [{"name": "title"}, {"name": "n", "type": "int"},
		{"name": "author", "type": "reference", "collection": "authors", "on_delete": "set_null"}]}`)
	ann := mustRecord(t, s, "authors", `{"name": "Ann"}`)
	good := mustRecord(t, s, "books", fmt.Sprintf(`{"title": "ok", "n": 1, "author": %q}`, ann.ID))
	old := mustRecord(t, s, "books", `{"title": "no", "n": 2}`)

	h, err := s.Health(ctx)
	if err != nil || !h.Healthy || len(h.Collections) != 2 {
		t.Fatalf("fresh health = %+v, %v", h, err)
	}
	if st := h.Collections[1]; st.Name != "books" || st.Records != 2 || len(st.Indexes.Expected) != 1 ||
		len(st.Indexes.Present) != 1 || st.Invalid != nil {
		t.Fatalf("books status = %+v", st)
	}

	// A schema change that existing records no longer satisfy.
	if _, err := s.Update(ctx, "books", UpdateInput{Schema: json.RawMessage(`{"fields": [
		{"name": "title", "required": true, "min_length": 3}, {"name": "n", "type": "int", "min": 2},
		{"name": "author", "type": "reference", "collection": "authors", "on_delete": "set_null"}]}`)}); err != nil {
		t.Fatal(err)
	}
	// A dangling reference and a missing index, made behind the service's back.
	if _, err := db.W.Exec(`DELETE FROM records WHERE id = ?`, ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`DROP INDEX "` + indexName(authors.ID, "name", true) + `"`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`CREATE INDEX "` + indexPrefix(books.ID) + `i_stray" ON records (created_at)`); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, "authors", `{"name": "Bo"}`)
	// A duplicate, possible now that the unique index is gone.
	if _, err := db.W.Exec(`INSERT INTO records (id, collection_id, data, created_at, updated_at)
		VALUES ('dup', ?, '{"name":"Bo"}', '', '')`, authors.ID); err != nil {
		t.Fatal(err)
	}

	st, err := s.Status(ctx, "books")
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthy || st.InvalidRecords != 2 || len(st.Invalid) != 2 {
		t.Fatalf("books status = %+v", st)
	}
	problems := map[string][]string{}
	for _, p := range st.Invalid {
		for _, fe := range p.Errors {
			problems[p.ID] = append(problems[p.ID], fe.Field+":"+fe.Code)
		}
	}
	if got := problems[good.ID]; !slices.Equal(got, []string{"title:min_length", "n:min", "author:reference"}) {
		t.Errorf("problems of %s = %v", good.ID, got)
	}
	if got := problems[old.ID]; !slices.Equal(got, []string{"title:min_length"}) {
		t.Errorf("problems of %s = %v", old.ID, got)
	}
	if !slices.Equal(st.Indexes.Unexpected, []string{indexPrefix(books.ID) + "i_stray"}) {
		t.Errorf("unexpected indexes = %v", st.Indexes.Unexpected)
	}

	st, err = s.Status(ctx, "authors")
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthy || !slices.Equal(st.Indexes.Missing, []string{indexName(authors.ID, "name", true)}) ||
		len(st.Duplicates["name"]) != 1 || string(st.Duplicates["name"][0].Value) != `"Bo"` {
		t.Fatalf("authors status = %+v", st)
	}

	h, err = s.Health(ctx)
	if err != nil || h.Healthy || h.Collections[1].InvalidRecords != 2 || h.Collections[1].Invalid != nil {
		t.Fatalf("health = %+v, %v", h, err)
	}
	if _, err := s.Status(ctx, "nope"); !errors.Is(err, ErrCollectionNotFound) {
		t.Fatalf("unknown collection: %v", err)
	}
}
