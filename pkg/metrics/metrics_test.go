package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/store"
)

func TestFunctions(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := calls.NewCalls(db)
	finish := func(status string, ms int64) {
		call, err := c.Create(ctx, calls.NewCall{FunctionName: "f"})
		if err != nil {
			t.Fatal(err)
		}
		if status == "" {
			return
		}
		if _, _, err := c.Finish(ctx, call.ID, calls.Outcome{Status: status, DurationMS: ms}); err != nil {
			t.Fatal(err)
		}
	}
	finish("succeeded", 0)
	finish("succeeded", 10)
	finish("failed", 20)
	finish("", 0) // running
	r := New(db)
	stats, err := r.Functions(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s := stats["f"]
	if s.TotalCalls != 4 || s.Succeeded != 2 || s.Failed != 1 || s.Running != 1 || s.AvgDurationMS == nil || *s.AvgDurationMS != 10 {
		t.Fatalf("stats %+v avg %v", s, s.AvgDurationMS)
	}
	sum, err := r.Summary(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(sum) != 1 || sum[0].ErrorRate != 1.0/3 {
		t.Fatalf("summary %+v %v", sum, err)
	}
	if old, _ := r.Functions(ctx, time.Now().Add(time.Hour)); len(old) != 0 {
		t.Fatalf("future window has %v", old)
	}
	sizes, err := r.Collections(ctx)
	if err != nil || len(sizes) != 0 {
		t.Fatalf("sizes %v %v", sizes, err)
	}
}
