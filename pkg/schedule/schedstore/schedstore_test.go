package schedstore

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/store"
)

func open(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	st := NewStore(db)
	st.now = func() time.Time { return now }
	return st, &now
}

func at(t *testing.T, v *string) time.Time {
	t.Helper()
	if v == nil {
		t.Fatal("nil time")
	}
	tm, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestCreateUpdateRecord(t *testing.T) {
	st, now := open(t)
	ctx := context.Background()
	var events []Schedule
	hook := func(s Schedule) { events = append(events, s) }
	s, err := st.Create(ctx, New{Name: "n", FunctionName: "f", IsActive: true,
		Spec: json.RawMessage(`{"method":"interval","unit":"minutes","value":5}`)}, hook)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(t, s.NextRunAt); !got.Equal(now.Add(5 * time.Minute)) {
		t.Fatalf("next %v", got)
	}
	if len(events) != 1 || events[0].ID != s.ID || string(s.InputData) != "{}" {
		t.Fatalf("events %v, input %s", events, s.InputData)
	}

	// Invalid specs and past once schedules are refused.
	for _, spec := range []string{`{"method":"cron","cron":"x"}`, `{"method":"once","date":"2026-06-01","time":"11:00"}`} {
		_, err := st.Create(ctx, New{Name: "bad", FunctionName: "f", IsActive: true, Spec: json.RawMessage(spec)}, nil)
		var se *schedule.SpecError
		if !errors.As(err, &se) {
			t.Errorf("%s: %v", spec, err)
		}
	}

	// A fire moves the times forward; a stale or older one does not.
	due := now.Add(5 * time.Minute)
	if ok, err := st.RecordFire(ctx, s.ID, s.Revision, due, Ran, due.Add(5*time.Minute), true, nil); !ok || err != nil {
		t.Fatalf("record: %v %v", ok, err)
	}
	if ok, _ := st.RecordFire(ctx, s.ID, s.Revision, due.Add(-5*time.Minute), Ran, due, true, nil); !ok {
		t.Fatal("older fire not applied")
	}
	got, _ := st.Get(ctx, s.ID)
	if !at(t, got.LastRunAt).Equal(due) || !at(t, got.NextRunAt).Equal(due.Add(5*time.Minute)) {
		t.Errorf("times went back: last %v next %v", *got.LastRunAt, *got.NextRunAt)
	}
	if ok, _ := st.RecordFire(ctx, s.ID, s.Revision+1, due, Ran, due, true, nil); ok {
		t.Error("fire of another revision applied")
	}
	if _, err := st.RecordFire(ctx, s.ID, s.Revision, due.Add(time.Hour), Missed, due.Add(2*time.Hour), true, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = st.Get(ctx, s.ID)
	if got.MissedRuns != 1 || !at(t, got.LastMissedAt).Equal(due.Add(time.Hour)) {
		t.Errorf("missed not recorded: %+v", got)
	}

	// Patching the spec or is_active raises the revision; renaming does not.
	name := "renamed"
	u, err := st.Update(ctx, s.ID, Patch{Name: &name}, nil)
	if err != nil || u.Revision != s.Revision || u.Name != name {
		t.Fatalf("rename: %+v %v", u, err)
	}
	off := false
	u, _ = st.Update(ctx, s.ID, Patch{IsActive: &off}, nil)
	if u.Revision != s.Revision+1 || u.NextRunAt != nil || u.IsActive {
		t.Errorf("deactivate: %+v", u)
	}
	on := true
	*now = now.Add(time.Hour)
	u, _ = st.Update(ctx, s.ID, Patch{IsActive: &on}, nil)
	if u.Revision != s.Revision+2 || !at(t, u.NextRunAt).Equal(now.Add(5*time.Minute)) {
		t.Errorf("activate: %+v", u)
	}

	// A once schedule retires after its fire.
	o, err := st.Create(ctx, New{Name: "o", FunctionName: "f", IsActive: true,
		Spec: json.RawMessage(`{"method":"once","date":"2026-06-02","time":"00:00"}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	events = nil
	if ok, _ := st.RecordFire(ctx, o.ID, o.Revision, at(t, o.NextRunAt), Ran, time.Time{}, false, hook); !ok {
		t.Fatal("once fire not applied")
	}
	got, _ = st.Get(ctx, o.ID)
	if got.IsActive || got.NextRunAt != nil || got.LastRunAt == nil || len(events) != 1 || events[0].IsActive {
		t.Errorf("once not retired: %+v, events %v", got, events)
	}

	active, more, err := st.Active(ctx, "", 10)
	if err != nil || more || len(active) != 1 || active[0].ID != s.ID {
		t.Errorf("active: %v %v %v", active, more, err)
	}
	if err := st.Delete(ctx, s.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}
