package activity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// BenchmarkAppend measures what an event costs the request that caused it
// (ns/op: one Append, the writer running beside it) and how fast the
// writer empties the queue (entries/s: from the first Append until all
// b.N entries are committed).
func BenchmarkAppend(b *testing.B) {
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "tinybase.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := Open(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	data := map[string]any{"collection": "notes", "record_id": "0b7f1c7e-4d0f-4c55-9d0e-2f9d2c4b1a11"}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for {
			err := l.Append(New{Kind: "record.created", ActorID: "u1", Subject: "notes/x", Message: "m",
				Data: data})
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			// Faster than the writer for long runs: wait for it, so the
			// figure is the sustained rate.
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	for l.Pending() > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
