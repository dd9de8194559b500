package versions

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tinybase/tinybase/pkg/store"
)

func TestRecordAndList(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)
	v1, created, err := s.Record(ctx, NewVersion{FunctionName: "hello", FileName: "hello.py", ContentHash: "a", FileSize: 10})
	if err != nil || !created {
		t.Fatalf("v1: %v %v", created, err)
	}
	again, created, err := s.Record(ctx, NewVersion{FunctionName: "hello", FileName: "hello.py", ContentHash: "a", FileSize: 10})
	if err != nil || created || again.ID != v1.ID {
		t.Fatalf("same content recorded twice: %v %v %v", created, again.ID, err)
	}
	notes := "v2"
	if _, created, err = s.Record(ctx, NewVersion{FunctionName: "hello", FileName: "hello.py", ContentHash: "b", FileSize: 11, Notes: &notes}); err != nil || !created {
		t.Fatalf("v2: %v %v", created, err)
	}
	// Back to the first content: a new version (a rollback is a deployment).
	if _, created, err = s.Record(ctx, NewVersion{FunctionName: "hello", FileName: "hello.py", ContentHash: "a", FileSize: 10}); err != nil || !created {
		t.Fatalf("rollback: %v %v", created, err)
	}
	list, err := s.List(ctx, "hello", "hello.py", 50)
	if err != nil || len(list) != 3 || list[0].ContentHash != "a" || list[1].ContentHash != "b" {
		t.Fatalf("list: %+v %v", list, err)
	}
	byHash, err := s.ByHash(ctx, "hello.py", "a")
	if err != nil || byHash.ID != list[0].ID {
		t.Fatalf("by hash: %+v %v", byHash, err)
	}
	// After the function moves to another file, its old versions still list.
	if _, _, err := s.Record(ctx, NewVersion{FunctionName: "hello", FileName: "greet.py", ContentHash: "c", FileSize: 9}); err != nil {
		t.Fatal(err)
	}
	if moved, err := s.List(ctx, "hello", "greet.py", 50); err != nil || len(moved) != 4 {
		t.Fatalf("after move: %d versions, %v", len(moved), err)
	}
	if _, err := s.Get(ctx, "missing"); err != ErrNotFound {
		t.Fatalf("missing: %v", err)
	}
}
