package activity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

func openLog(t *testing.T) (*Log, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	l := Open(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		l.Close()
		db.Close()
	})
	return l, db
}

// flushed waits until every accepted entry is written.
func flushed(t *testing.T, l *Log) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still pending", l.Pending())
		}
		time.Sleep(time.Millisecond)
	}
	// The last batch may be between leaving the queue and committing.
	time.Sleep(20 * time.Millisecond)
}

func TestListSeesWhatWasJustAppended(t *testing.T) {
	l, _ := openLog(t)
	for i := range 3 {
		if err := l.Append(New{Kind: "user.login", Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		// No waiting: the read itself makes the writer commit what is
		// queued instead of letting it gather.
		start := time.Now()
		p, err := l.List(context.Background(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != i+1 || p.Items[0].Subject != fmt.Sprint(i) {
			t.Fatalf("list after append %d: %v", i, kinds(p))
		}
		t.Logf("read after append %d took %s", i, time.Since(start))
	}
}

func kinds(p Page) []string {
	out := []string{}
	for _, e := range p.Items {
		out = append(out, e.Kind+":"+e.Subject)
	}
	return out
}

func TestAppendListFilters(t *testing.T) {
	l, _ := openLog(t)
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	add := []New{
		{At: base, Kind: "record.created", ActorID: "u1", Subject: "notes/1", Data: map[string]any{"n": 1}},
		{At: base.Add(time.Second), Kind: "record.updated", ActorID: "u1", Subject: "notes/1"},
		{At: base.Add(2 * time.Second), Kind: "user.login", ActorID: "u2", Subject: "u2"},
		{At: base.Add(3 * time.Second), Kind: "record.deleted", ActorID: "u2", Subject: "notes2/7"},
		{At: base.Add(4 * time.Second), Kind: "records.other", Subject: "notes"},
	}
	for _, n := range add {
		if err := l.Append(n); err != nil {
			t.Fatal(err)
		}
	}
	flushed(t, l)
	ctx := context.Background()
	cases := []struct {
		name string
		f    Filter
		want string
	}{
		{"all newest first", Filter{}, "[records.other:notes record.deleted:notes2/7 user.login:u2 " +
			"record.updated:notes/1 record.created:notes/1]"},
		{"kind prefix", Filter{Kind: "record"},
			"[record.deleted:notes2/7 record.updated:notes/1 record.created:notes/1]"},
		{"kind exact", Filter{Kind: "record.updated"}, "[record.updated:notes/1]"},
		{"actor", Filter{ActorID: "u2"}, "[record.deleted:notes2/7 user.login:u2]"},
		{"subject prefix", Filter{Subject: "notes"},
			"[records.other:notes record.updated:notes/1 record.created:notes/1]"},
		{"since until", Filter{Since: base.Add(time.Second), Until: base.Add(3 * time.Second)},
			"[user.login:u2 record.updated:notes/1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := l.List(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(kinds(p)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	p, _ := l.List(ctx, Filter{Kind: "record.created"})
	if e := p.Items[0]; string(e.Data) != `{"n":1}` || e.ActorID == nil || *e.ActorID != "u1" ||
		e.At != "2026-01-01T12:00:00.000000Z" {
		t.Errorf("entry = %+v", e)
	}
	p, _ = l.List(ctx, Filter{Kind: "records.other"})
	if e := p.Items[0]; e.ActorID != nil || string(e.Data) != "{}" {
		t.Errorf("system entry = %+v", e)
	}
}

func TestCursorPaging(t *testing.T) {
	l, _ := openLog(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		// Pairs share a timestamp: the id breaks the tie.
		if err := l.Append(New{At: at.Add(time.Duration(i/2) * time.Second), Kind: "test.n",
			Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	flushed(t, l)
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		p, err := l.List(context.Background(), Filter{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Items {
			seen = append(seen, e.Subject)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if len(seen) != 25 || seen[0] != "24" || seen[24] != "0" {
		t.Fatalf("paged %d entries: %v", len(seen), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Fatalf("duplicate %s", seen[i])
		}
	}
	after, err := l.After(context.Background(), 20, 3)
	if err != nil || len(after) != 3 || after[0].ID != 21 || after[2].ID != 23 {
		t.Fatalf("After(20, 3) = %+v, %v", after, err)
	}
	for _, bad := range []string{"x", "!!", encodeCursor("yesterday", 1)} {
		if _, err := l.List(context.Background(), Filter{Cursor: bad}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func TestAppendRefusesBadKind(t *testing.T) {
	l, _ := openLog(t)
	for _, k := range []string{"", "Record.Created", "a b", "-x"} {
		if err := l.Append(New{Kind: k}); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("kind %q: %v", k, err)
		}
	}
}

// TestCloseWritesQueued: everything accepted before Close is in the
// database after it, even a burst far larger than one batch.
func TestCloseWritesQueued(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := Open(db, nil)
	const n = 3 * batchSize
	for i := range n {
		if err := l.Append(New{Kind: "burst", Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	var count int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM activity`).Scan(&count); err != nil || count != n {
		t.Fatalf("count = %d, %v; want %d", count, err, n)
	}
	if err := l.Append(New{Kind: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	l.Close() // twice is fine
}

func TestSubscribe(t *testing.T) {
	l, _ := openLog(t)
	ch, cancel := l.Subscribe()
	defer cancel()
	_ = l.Append(New{Kind: "a.one"})
	_ = l.Append(New{Kind: "a.two"})
	for _, want := range []string{"a.one", "a.two"} {
		select {
		case e := <-ch:
			if e.Kind != want || e.ID == 0 {
				t.Fatalf("got %+v, want %s with an id", e, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", want)
		}
	}
	l.EndSubscriptions()
	if _, ok := <-ch; ok {
		t.Fatal("subscription still open after EndSubscriptions")
	}
	cancel() // after the end is fine
	if ch2, _ := l.Subscribe(); func() bool { _, ok := <-ch2; return ok }() {
		t.Fatal("subscribe after end not closed")
	}
}

func TestSlowSubscriberCutOff(t *testing.T) {
	l, _ := openLog(t)
	ch, cancel := l.Subscribe()
	defer cancel()
	for range SubscriberBuffer + 10 {
		_ = l.Append(New{Kind: "flood"})
	}
	flushed(t, l)
	n := 0
	for range ch {
		n++
	}
	if n != SubscriberBuffer {
		t.Fatalf("received %d before cut-off, want %d", n, SubscriberBuffer)
	}
}

func TestPruneAndRetention(t *testing.T) {
	l, _ := openLog(t)
	now := time.Now()
	for i := range 10 {
		_ = l.Append(New{At: now.AddDate(0, 0, -i*10), Kind: "age", Subject: fmt.Sprint(i * 10)})
	}
	flushed(t, l)
	n, err := l.Prune(context.Background(), now.AddDate(0, 0, -45))
	if err != nil || n != 5 {
		t.Fatalf("pruned %d, %v; want 5", n, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Retention(ctx, time.Hour, func() int { return 15 })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := l.List(context.Background(), Filter{})
		if fmt.Sprint(kinds(p)) == "[age:0 age:10]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention left %v", kinds(p))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}
