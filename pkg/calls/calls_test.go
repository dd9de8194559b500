package calls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/store"
)

func newCalls(t *testing.T) (*Calls, *store.DB) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tinybase.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewCalls(db), db
}

// addUser inserts a bare user row and returns its id.
func addUser(t *testing.T, db *store.DB) string {
	t.Helper()
	id, now := uuid.NewString(), store.Now()
	if _, err := db.W.Exec(
		`INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)`,
		id, id+"@example.com", now, now); err != nil {
		t.Fatal(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	calls, db := newCalls(t)
	ctx := context.Background()
	user := addUser(t, db)

	c, err := calls.Create(ctx, NewCall{FunctionName: "add_numbers", RequestedBy: &user})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		t.Errorf("generated id %q: %v", c.ID, err)
	}
	want := Call{ID: c.ID, FunctionName: "add_numbers", Status: StatusRunning, TriggerType: TriggerManual,
		RequestedByUserID: &user, CreatedAt: c.CreatedAt}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Create = %+v, want %+v", c, want)
	}
	if got, err := calls.Get(ctx, c.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, want)
	}

	sched, err := calls.Create(ctx, NewCall{ID: "call-2", FunctionName: "nightly", TriggerType: TriggerSchedule,
		TriggerID: ptr("sched-1"), RequestedBy: ptr("")})
	if err != nil {
		t.Fatal(err)
	}
	if sched.ID != "call-2" || sched.TriggerType != TriggerSchedule || *sched.TriggerID != "sched-1" ||
		sched.RequestedByUserID != nil {
		t.Errorf("scheduled call = %+v", sched)
	}

	tests := []struct {
		name string
		nc   NewCall
		err  error
	}{
		{"duplicate id", NewCall{ID: c.ID, FunctionName: "add_numbers"}, ErrCallExists},
		{"unknown user", NewCall{FunctionName: "add_numbers", RequestedBy: ptr("nobody")}, ErrUnknownUser},
		{"bad trigger", NewCall{FunctionName: "add_numbers", TriggerType: "webhook"}, ErrInvalidCall},
		{"empty name", NewCall{}, functions.ErrInvalidName},
		{"upper-case name", NewCall{FunctionName: "Add"}, functions.ErrInvalidName},
		{"path name", NewCall{FunctionName: "../x"}, functions.ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := calls.Create(ctx, tt.nc); !errors.Is(err, tt.err) {
				t.Errorf("Create error = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestFinish(t *testing.T) {
	calls, db := newCalls(t)
	ctx := context.Background()
	c, err := calls.Create(ctx, NewCall{ID: "call-1", FunctionName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 1, 31, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	finished := started.Add(1500 * time.Millisecond)
	first := Outcome{
		Status: StatusFailed, ErrorMessage: ptr("boom"), ErrorType: ptr("ValueError"), DurationMS: 1500,
		WorkerID: "w1", Attempts: 2, StartedAt: started, FinishedAt: finished,
		Stderr: strings.Repeat("é", MaxStderrBytes) + "Traceback: boom!\n",
	}
	got, applied, err := calls.Finish(ctx, c.ID, first)
	if err != nil || !applied {
		t.Fatalf("Finish = %+v, %v, %v", got, applied, err)
	}
	want := c
	want.Status = StatusFailed
	want.ErrorMessage, want.ErrorType = ptr("boom"), ptr("ValueError")
	want.DurationMS, want.WorkerID, want.Attempts = ptr(int64(1500)), ptr("w1"), 2
	want.StartedAt, want.FinishedAt = ptr("2026-01-31T11:00:00.123456Z"), ptr("2026-01-31T11:00:01.623456Z")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Finish = %s\nwant %s", dump(got), dump(want))
	}

	var stderr string
	if err := db.R.QueryRow(`SELECT stderr FROM function_calls WHERE id = ?`, c.ID).Scan(&stderr); err != nil {
		t.Fatal(err)
	}
	if len(stderr) > MaxStderrBytes || !strings.HasSuffix(stderr, "Traceback: boom!\n") ||
		!utf8.ValidString(stderr) || !strings.HasPrefix(stderr, "é") {
		t.Errorf("stored stderr: %d bytes, starts %q, ends %q", len(stderr), stderr[:4], stderr[len(stderr)-16:])
	}

	// A redelivered or conflicting result changes nothing.
	again, applied, err := calls.Finish(ctx, c.ID, Outcome{Status: StatusSucceeded, DurationMS: 5, WorkerID: "w2"})
	if err != nil || applied {
		t.Fatalf("second Finish: applied %v, error %v", applied, err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("second Finish returned %s\nwant %s", dump(again), dump(want))
	}
	if stored, err := calls.Get(ctx, c.ID); err != nil || !reflect.DeepEqual(stored, want) {
		t.Errorf("stored after second Finish = %s, %v", dump(stored), err)
	}

	tests := []struct {
		name string
		id   string
		o    Outcome
		err  error
	}{
		{"unknown id", "nope", Outcome{Status: StatusSucceeded}, ErrCallNotFound},
		{"running is not final", c.ID, Outcome{Status: StatusRunning}, ErrInvalidCall},
		{"empty status", c.ID, Outcome{}, ErrInvalidCall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, applied, err := calls.Finish(ctx, tt.id, tt.o); !errors.Is(err, tt.err) || applied {
				t.Errorf("Finish: applied %v, error %v; want %v", applied, err, tt.err)
			}
		})
	}

	// Zero times: started_at stays null, finished_at is now.
	c2, err := calls.Create(ctx, NewCall{FunctionName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = calls.Finish(ctx, c2.ID, Outcome{Status: StatusSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	if got.StartedAt != nil || got.FinishedAt == nil || *got.FinishedAt < c2.CreatedAt || got.WorkerID != nil {
		t.Errorf("Finish with zero times = %s", dump(got))
	}

	// Epoch times, as time.UnixMilli(0) gives for unset bus fields, count as zero.
	c3, err := calls.Create(ctx, NewCall{FunctionName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.UnixMilli(0)
	got, _, err = calls.Finish(ctx, c3.ID, Outcome{Status: StatusFailed, StartedAt: epoch, FinishedAt: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if got.StartedAt != nil || got.FinishedAt == nil || *got.FinishedAt < c3.CreatedAt {
		t.Errorf("Finish with epoch times = %s", dump(got))
	}
}

func dump(c Call) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func TestCallJSON(t *testing.T) {
	b, err := json.Marshal(Call{ID: "1", FunctionName: "f", Status: StatusRunning, TriggerType: TriggerManual,
		CreatedAt: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"trigger_id", "requested_by_user_id", "worker_id", "started_at", "finished_at",
		"duration_ms", "error_message", "error_type", "version_id"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	for _, k := range []string{"id", "function_name", "status", "trigger_type", "attempts", "created_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing from %s", k, b)
		}
	}
	if len(m) != 15 {
		t.Errorf("%d keys in %s, want 15", len(m), b)
	}
}

func TestList(t *testing.T) {
	calls, _ := newCalls(t)
	ctx := context.Background()
	// 12 calls: names alternate a/b; every third is scheduled; calls 0-5 finish.
	var ids []string
	for i := range 12 {
		nc := NewCall{ID: fmt.Sprintf("call-%02d", i), FunctionName: []string{"a", "b"}[i%2]}
		if i%3 == 0 {
			nc.TriggerType = TriggerSchedule
		}
		c, err := calls.Create(ctx, nc)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		if i < 6 {
			status := StatusSucceeded
			if i%2 == 1 {
				status = StatusFailed
			}
			if _, _, err := calls.Finish(ctx, c.ID, Outcome{Status: status}); err != nil {
				t.Fatal(err)
			}
		}
	}

	tests := []struct {
		name  string
		f     Filter
		ids   []string
		total int
	}{
		{"all newest first", Filter{}, reverse(ids), 12},
		{"page", Filter{Limit: 3, Offset: 2}, []string{"call-09", "call-08", "call-07"}, 12},
		{"past the end", Filter{Offset: 50}, []string{}, 12},
		{"by name", Filter{FunctionName: "a", Limit: 2}, []string{"call-10", "call-08"}, 6},
		{"running", Filter{Status: StatusRunning}, reverse(ids[6:]), 6},
		{"failed", Filter{Status: StatusFailed}, []string{"call-05", "call-03", "call-01"}, 3},
		{"scheduled", Filter{TriggerType: TriggerSchedule}, []string{"call-09", "call-06", "call-03", "call-00"}, 4},
		{"combined", Filter{FunctionName: "b", Status: StatusSucceeded, TriggerType: TriggerManual}, []string{}, 0},
		{"combined hit", Filter{FunctionName: "b", Status: StatusFailed, TriggerType: TriggerSchedule},
			[]string{"call-03"}, 1},
		{"unknown name", Filter{FunctionName: "zzz"}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := calls.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			gotIDs := []string{}
			for _, c := range got {
				gotIDs = append(gotIDs, c.ID)
			}
			if !reflect.DeepEqual(gotIDs, tt.ids) || total != tt.total {
				t.Errorf("List = %v, total %d; want %v, total %d", gotIDs, total, tt.ids, tt.total)
			}
		})
	}

	for _, f := range []Filter{{Status: "queued"}, {TriggerType: "webhook"}} {
		if _, _, err := calls.List(ctx, f); !errors.Is(err, ErrInvalidCall) {
			t.Errorf("List(%+v) error = %v, want ErrInvalidCall", f, err)
		}
	}

	running, err := calls.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var runningIDs []string
	for _, c := range running {
		runningIDs = append(runningIDs, c.ID)
	}
	if want := ids[6:]; !reflect.DeepEqual(runningIDs, want) {
		t.Errorf("Running = %v, want %v", runningIDs, want)
	}
}

func TestListLimits(t *testing.T) {
	calls, _ := newCalls(t)
	ctx := context.Background()
	for range MaxListLimit + 5 {
		if _, err := calls.Create(ctx, NewCall{FunctionName: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit, want int
	}{
		{0, DefaultListLimit},
		{-1, DefaultListLimit},
		{7, 7},
		{MaxListLimit + 100, MaxListLimit},
	}
	for _, tt := range tests {
		got, total, err := calls.List(ctx, Filter{Limit: tt.limit, Offset: -3})
		if err != nil || len(got) != tt.want || total != MaxListLimit+5 {
			t.Errorf("List(limit %d) = %d calls, total %d, %v; want %d", tt.limit, len(got), total, err, tt.want)
		}
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestKeepResult(t *testing.T) {
	calls, _ := newCalls(t)
	ctx := context.Background()
	for _, keep := range []bool{true, false} {
		c, err := calls.Create(ctx, NewCall{FunctionName: "f", KeepResult: keep})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := calls.Finish(ctx, c.ID, Outcome{Status: StatusSucceeded, Result: json.RawMessage(`{"n":9007199254740993}`),
			Stderr: "log line"}); err != nil {
			t.Fatal(err)
		}
		d, err := calls.GetDetail(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := "null"
		if keep {
			want = `{"n":9007199254740993}`
		}
		if string(d.Result) != want || d.Stderr == nil || *d.Stderr != "log line" {
			t.Errorf("keep=%v: result %s stderr %v", keep, d.Result, d.Stderr)
		}
	}
}

func TestFinishWithoutRecord(t *testing.T) {
	calls, db := newCalls(t)
	ctx := context.Background()
	user := addUser(t, db)
	accepted := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	o := Outcome{Status: StatusSucceeded, DurationMS: 4, WorkerID: "w1", Attempts: 1,
		StartedAt: accepted.Add(time.Millisecond), FinishedAt: accepted.Add(5 * time.Millisecond),
		Result: json.RawMessage(`{"ok":true}`)}
	if _, _, err := calls.Finish(ctx, "no-origin", o); !errors.Is(err, ErrCallNotFound) {
		t.Fatalf("Finish without record or origin: %v, want ErrCallNotFound", err)
	}

	o.Origin = &NewCall{FunctionName: "f", RequestedBy: &user, VersionID: ptr("v1"), KeepResult: true,
		CreatedAt: accepted}
	got, applied, err := calls.Finish(ctx, "c1", o)
	if err != nil || !applied {
		t.Fatalf("Finish with origin = %+v, %v, %v", got, applied, err)
	}
	if got.Status != StatusSucceeded || got.FunctionName != "f" || got.TriggerType != TriggerManual ||
		*got.RequestedByUserID != user || *got.VersionID != "v1" || *got.WorkerID != "w1" ||
		got.CreatedAt != "2026-03-01T09:00:00.000000Z" {
		t.Errorf("recorded call: %s", dump(got))
	}
	d, err := calls.GetDetail(ctx, "c1")
	if err != nil || string(d.Result) != `{"ok":true}` {
		t.Errorf("kept result: %s, %v", d.Result, err)
	}
	// A second delivery of the same result changes nothing.
	o.Status = StatusFailed
	if again, applied, err := calls.Finish(ctx, "c1", o); err != nil || applied || again.Status != StatusSucceeded {
		t.Errorf("duplicate Finish = %s, %v, %v", dump(again), applied, err)
	}

	// The caller's account is gone by the time the result arrives: the
	// call is recorded without it rather than lost.
	o.Status = StatusSucceeded
	o.Origin = &NewCall{FunctionName: "f", RequestedBy: ptr("deleted-user")}
	got, applied, err = calls.Finish(ctx, "c2", o)
	if err != nil || !applied || got.RequestedByUserID != nil {
		t.Errorf("Finish for a deleted user = %s, %v, %v", dump(got), applied, err)
	}

	// A record written while the call ran is updated, not duplicated.
	if _, err := calls.Create(ctx, NewCall{ID: "c3", FunctionName: "f", WorkerID: ptr("w2")}); err != nil {
		t.Fatal(err)
	}
	if c, err := calls.Get(ctx, "c3"); err != nil || c.WorkerID == nil || *c.WorkerID != "w2" {
		t.Fatalf("running call's worker: %+v, %v", c, err)
	}
	if err := calls.Requeued(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	if c, _ := calls.Get(ctx, "c3"); c.WorkerID != nil {
		t.Errorf("requeued call still names worker %s", *c.WorkerID)
	}
	o.Origin = &NewCall{FunctionName: "other"}
	if got, applied, err := calls.Finish(ctx, "c3", o); err != nil || !applied || got.FunctionName != "f" {
		t.Errorf("Finish of a recorded call with origin = %s, %v, %v", dump(got), applied, err)
	}
}

func TestFinishAll(t *testing.T) {
	calls, _ := newCalls(t)
	ctx := context.Background()
	if _, err := calls.Create(ctx, NewCall{ID: "running", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	ok := Outcome{Status: StatusSucceeded, WorkerID: "w1", Attempts: 1}
	bad := ok
	bad.Origin = &NewCall{FunctionName: "not a name"}
	fresh := ok
	fresh.Origin = &NewCall{FunctionName: "g"}
	got := calls.FinishAll(ctx, []Finishing{
		{ID: "running", Outcome: ok},
		{ID: "unknown", Outcome: ok},
		{ID: "bad-origin", Outcome: bad},
		{ID: "bad-status", Outcome: Outcome{Status: StatusRunning}},
		{ID: "fresh", Outcome: fresh},
	})
	if !got[0].Applied || got[0].Err != nil || got[0].Call.Status != StatusSucceeded {
		t.Errorf("running call: %+v", got[0])
	}
	if !errors.Is(got[1].Err, ErrCallNotFound) {
		t.Errorf("unknown call without origin: %+v", got[1])
	}
	if got[2].Err == nil || got[3].Err == nil || !errors.Is(got[3].Err, ErrInvalidCall) {
		t.Errorf("bad items: %+v / %+v", got[2], got[3])
	}
	// The bad items failed alone: the good ones are committed.
	if !got[4].Applied || got[4].Err != nil {
		t.Errorf("new call beside bad ones: %+v", got[4])
	}
	for _, id := range []string{"running", "fresh"} {
		if c, err := calls.Get(ctx, id); err != nil || c.Status != StatusSucceeded {
			t.Errorf("%s after FinishAll: %+v, %v", id, c, err)
		}
	}
}
