package extension

import (
	"context"
	"testing"
)

// BenchmarkBeforeCreate is one before-create hook round trip to the
// wordfilter example: what a record create pays per extension.
func BenchmarkBeforeCreate(b *testing.B) {
	f := newFixture(b, Options{})
	info, err := f.m.Install(context.Background(), InstallInput{Path: wordfilterBin})
	if err != nil || info.Status.State != StateRunning {
		b.Fatalf("install: %v %+v", err, info.Status)
	}
	defer f.m.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if d := f.m.Before(ctx, createReq("notes", map[string]any{"title": "record", "note": "nothing"})); d.Refused {
			b.Fatal(d)
		}
	}
}
