package collections

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

func openTestDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTestService(t testing.TB) (*Service, *store.DB) {
	t.Helper()
	db := openTestDB(t)
	return NewService(db), db
}

// addUser inserts a user row directly; users belong to the auth package.
func addUser(t testing.TB, db *store.DB, email string) string {
	t.Helper()
	id := uuid.NewString()
	now := store.Now()
	_, err := db.W.Exec(`INSERT INTO users (id, email, password_hash, is_admin, created_at, updated_at)
		VALUES (?, ?, 'x', 0, ?, ?)`, id, email, now, now)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

func mustCreate(t testing.TB, s *Service, name, schema string) Collection {
	t.Helper()
	c, err := s.Create(context.Background(), CreateInput{Name: name, Label: name, Schema: json.RawMessage(schema)})
	if err != nil {
		t.Fatalf("create collection %s: %v", name, err)
	}
	return c
}

func TestCreateCollectionErrors(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	mustCreate(t, s, "posts", `{"fields": []}`)
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name  string
		in    CreateInput
		check func(error) bool
		msg   string
	}{
		{"duplicate", CreateInput{Name: "posts", Label: "P"},
			func(err error) bool { return errors.Is(err, ErrCollectionExists) }, "Collection 'posts' already exists"},
		{"empty name", CreateInput{Name: "", Label: "x"}, isInputError("name"), "name: is required"},
		{"upper-case name", CreateInput{Name: "Posts", Label: "x"}, isInputError("name"), ""},
		{"leading digit", CreateInput{Name: "1posts", Label: "x"}, isInputError("name"), ""},
		{"dash", CreateInput{Name: "my-posts", Label: "x"}, isInputError("name"), ""},
		{"too long", CreateInput{Name: string(long), Label: "x"}, isInputError("name"), ""},
		{"empty label", CreateInput{Name: "a", Label: ""}, isInputError("label"), ""},
		{"options not object",
			CreateInput{Name: "a", Label: "a", Options: json.RawMessage(`[1]`)}, isInputError("options"), ""},
		{"access not object", CreateInput{Name: "a", Label: "a", Options: json.RawMessage(`{"access": "public"}`)},
			isInputError("options.access"), ""},
		{"access rule not string",
			CreateInput{Name: "a", Label: "a", Options: json.RawMessage(`{"access": {"list": 1}}`)},
			isInputError("options.access"), ""},
		{"bad schema",
			CreateInput{Name: "a", Label: "a", Schema: json.RawMessage(`{"fields": [{"name": "x", "type": "nope"}]}`)},
			func(err error) bool { var se *SchemaError; return errors.As(err, &se) },
			`Invalid schema: x: unknown type "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, tt.in)
			if err == nil || !tt.check(err) {
				t.Fatalf("Create error = %v", err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message = %q, want %q", err.Error(), tt.msg)
			}
		})
	}
	// A 100-character name is fine.
	if _, err := s.Create(ctx, CreateInput{Name: string(long[:100]), Label: "x"}); err != nil {
		t.Fatalf("100-character name: %v", err)
	}
}

func isInputError(field string) func(error) bool {
	return func(err error) bool {
		var ie *InputError
		return errors.As(err, &ie) && ie.Field == field
	}
}

func TestCollectionCRUD(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	schema := `{"fields": [{"name": "title", "type": "String", "required": true}, {"name": "n", "type": "int"}]}`
	c, err := s.Create(ctx, CreateInput{Name: "posts", Label: "Posts", Schema: json.RawMessage(schema)})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Options) != `{}` || c.ID == "" || c.CreatedAt == "" || c.CreatedAt != c.UpdatedAt {
		t.Errorf("created = %+v", c)
	}
	// The schema is stored as sent (compacted), aliases and case included.
	wantSchema := `{"fields":[{"name":"title","type":"String","required":true},{"name":"n","type":"int"}]}`
	if string(c.Schema) != wantSchema {
		t.Errorf("schema = %s, want %s", c.Schema, wantSchema)
	}
	mustCreate(t, s, "authors", `{}`)

	got, err := s.Get(ctx, "posts")
	if err != nil || got.ID != c.ID || string(got.Schema) != wantSchema || got.Label != "Posts" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "authors" || list[1].Name != "posts" {
		t.Fatalf("List = %+v, %v", list, err)
	}

	label := "Blog posts"
	up, err := s.Update(ctx, "posts", UpdateInput{Label: &label, Options: json.RawMessage(`{"access": {"list": "auth"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if up.Label != label || string(up.Schema) != wantSchema || string(up.Options) != `{"access":{"list":"auth"}}` {
		t.Errorf("updated = %+v", up)
	}
	if up.UpdatedAt < c.UpdatedAt || up.CreatedAt != c.CreatedAt {
		t.Errorf("timestamps: created %s updated %s (was %s)", up.CreatedAt, up.UpdatedAt, c.UpdatedAt)
	}
	// Null schema and options leave them unchanged.
	up2, err := s.Update(ctx, "posts", UpdateInput{Schema: json.RawMessage(`null`), Options: json.RawMessage(`null`)})
	if err != nil || string(up2.Schema) != wantSchema || string(up2.Options) != `{"access":{"list":"auth"}}` {
		t.Fatalf("null update = %+v, %v", up2, err)
	}
	// A new schema takes effect for the next write.
	newSchema := json.RawMessage(`{"fields": [{"name": "n", "type": "int"}]}`)
	if _, err := s.Update(ctx, "posts", UpdateInput{Schema: newSchema}); err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRecord(ctx, "posts", nil, json.RawMessage(`{"n": "4"}`))
	if err != nil || string(r.Data) != `{"n":4}` {
		t.Fatalf("record after schema change = %+v, %v", r, err)
	}
	if _, err := s.Update(ctx, "posts", UpdateInput{Schema: json.RawMessage(`{"fields": "x"}`)}); err == nil {
		t.Fatal("invalid schema accepted by Update")
	}
	empty := ""
	if _, err := s.Update(ctx, "posts", UpdateInput{Label: &empty}); !isInputError("label")(err) {
		t.Fatalf("empty label error = %v", err)
	}

	if err := s.Delete(ctx, "posts"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.Get(ctx, "posts"); return err }(),
		"update": func() error { _, err := s.Update(ctx, "posts", UpdateInput{Label: &label}); return err }(),
		"delete": s.Delete(ctx, "posts"),
	} {
		if !errors.Is(err, ErrCollectionNotFound) || err.Error() != "Collection 'posts' not found" {
			t.Errorf("%s after delete: %v", name, err)
		}
	}
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM collections`).Scan(&n); err != nil || n != 1 {
		t.Errorf("collections left = %d, %v", n, err)
	}
}

func TestSchemaCacheLoadedAtStart(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	s1 := NewService(db)
	mustCreate(t, s1, "notes", `{"fields": [{"name": "n", "type": "integer", "required": true}]}`)

	s2 := NewService(db)
	s2.mu.RLock()
	_, cached := s2.schemas["notes"]
	s2.mu.RUnlock()
	if !cached {
		t.Fatal("schema of an existing collection not loaded at start")
	}
	// A schema changed behind the service's back is noticed, not served stale.
	setSchema := `UPDATE collections SET schema = ? WHERE name = 'notes'`
	if _, err := db.W.Exec(setSchema, `{"fields":[{"name":"n","type":"string"}]}`); err != nil {
		t.Fatal(err)
	}
	r, err := s2.CreateRecord(ctx, "notes", nil, json.RawMessage(`{"n": "text"}`))
	if err != nil || string(r.Data) != `{"n":"text"}` {
		t.Fatalf("record with changed schema = %s, %v", r.Data, err)
	}
	// A stored schema that no longer parses is a server error, not a client one.
	if _, err := db.W.Exec(setSchema, `{"fields":[{"name":"n","type":"bogus"}]}`); err != nil {
		t.Fatal(err)
	}
	_, err = s2.CreateRecord(ctx, "notes", nil, json.RawMessage(`{}`))
	var se *SchemaError
	if !errors.Is(err, ErrStoredSchemaInvalid) || errors.As(err, &se) {
		t.Fatalf("broken stored schema error = %v", err)
	}
	s3 := NewService(db) // logs and skips the broken schema
	if _, err := s3.Get(ctx, "notes"); err != nil {
		t.Fatalf("Get with broken schema: %v", err)
	}
}

// BenchmarkCreateRecord measures one validated record insert, committed.
func BenchmarkCreateRecord(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := NewService(db)
	schema := json.RawMessage(`{"fields":[{"name":"title","type":"string","required":true},{"name":"n","type":"integer"}]}`)
	if _, err := svc.Create(ctx, CreateInput{Name: "notes", Label: "Notes", Schema: schema}); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"title":"hello","n":42}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.CreateRecord(ctx, "notes", nil, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateRecordParallel measures validated record inserts from 32
// goroutines, committed by the group-commit writer.
func BenchmarkCreateRecordParallel(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := NewService(db)
	schema := json.RawMessage(`{"fields":[{"name":"title","type":"string","required":true},{"name":"n","type":"integer"},
		{"name":"bucket","type":"integer","index":true}]}`)
	if _, err := svc.Create(ctx, CreateInput{Name: "notes", Label: "Notes", Schema: schema}); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"title":"hello","n":42,"bucket":7}`)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.CreateRecord(ctx, "notes", nil, data); err != nil {
				b.Error(err)
			}
		}
	})
}
