package scheduler_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
)

// maxLate is how long after its instant a run may be recorded: the fire's
// trip over the bus and the api's database writes, on a loaded machine
// and under the race detector.
const maxLate = 750 * time.Millisecond

// checkChain checks that the runs of sc are its instants from..to, each
// once and none skipped.
func checkChain(t *testing.T, sc sched, rs []ran, from int) {
	t.Helper()
	for i, r := range rs {
		if want := from + i; r.k != want {
			t.Errorf("%s: run %d is for instant %d, want %d (instants %v)", sc.Name, i, r.k, want, instants(rs))
			return
		}
	}
}

func instants(rs []ran) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.k
	}
	return out
}

// TestFiresOnTime: interval schedules run at each instant, once, promptly,
// and schedules created, deleted and paused while the scheduler leads are
// followed.
func TestFiresOnTime(t *testing.T) {
	s := newStack(t, 0)
	a := s.startScheduler("a")
	probe := s.createInterval("probe", 1)
	s.waitRuns(probe, 1, 20*time.Second)

	// Created while leading: the scheduler learns of them from events.
	var scheds []sched
	for i := 0; i < 20; i++ {
		scheds = append(scheds, s.createInterval(fmt.Sprintf("s%02d", i), 1))
	}
	s.waitRuns(scheds[0], 1, 10*time.Second)
	late := s.createInterval("late", 1)
	if code := s.do("DELETE", "/api/admin/schedules/"+scheds[1].ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	removedAt := time.Now()
	if code := s.do("PATCH", "/api/admin/schedules/"+scheds[2].ID, map[string]any{"is_active": false}, nil); code != http.StatusOK {
		t.Fatalf("pause: %d", code)
	}
	pausedAt := time.Now()
	time.Sleep(3500 * time.Millisecond)
	stop(t, a)
	stored := s.settle()

	all := s.calls()
	var worst time.Duration
	recorded := uint64(len(all[scheds[1].ID])) // deleted: no row to read misses from
	for _, sc := range append([]sched{probe, late, scheds[0]}, scheds[2:]...) {
		recorded += uint64(len(all[sc.ID]) + s.get(sc).MissedRuns)
	}
	// Fires the api dropped: only the deleted and the paused schedule's,
	// each at most one published just before the change reached the
	// scheduler.
	if stored < recorded || stored-recorded > 2 {
		t.Errorf("the bus stored %d fires, the api recorded %d runs and misses", stored, recorded)
	}
	for i, sc := range scheds {
		rs := s.runs(sc, all[sc.ID])
		checkChain(t, sc, rs, 0)
		for _, r := range rs {
			late := r.created.Sub(r.due)
			worst = max(worst, late)
			if late < 0 || late > maxLate {
				t.Errorf("%s: run for instant %d recorded %v after it", sc.Name, r.k, late)
			}
		}
		switch i {
		case 1, 2:
			until := map[int]time.Time{1: removedAt, 2: pausedAt}[i]
			if n := len(rs); n > 0 && rs[n-1].due.After(until) {
				t.Errorf("%s ran for %v, after it was removed or paused at %v", sc.Name, rs[n-1].due, until)
			}
		default:
			if len(rs) < 4 {
				t.Errorf("%s ran only %d times", sc.Name, len(rs))
				continue
			}
			// The api recorded the last run and the instant after it.
			cur := s.get(sc)
			last := rs[len(rs)-1]
			if cur.LastRunAt == nil || !parseTime(t, *cur.LastRunAt).Equal(last.due) ||
				cur.NextRunAt == nil || !parseTime(t, *cur.NextRunAt).Equal(last.due.Add(sc.every)) ||
				cur.MissedRuns != 0 {
				t.Errorf("%s: row %+v after runs up to %v", sc.Name, cur, last.due)
			}
		}
	}
	if cur := s.get(scheds[2]); cur.IsActive || cur.NextRunAt != nil {
		t.Errorf("paused schedule: %+v", cur)
	}
	rs := s.runs(late, all[late.ID])
	checkChain(t, late, rs, 0)
	if len(rs) < 2 {
		t.Errorf("schedule created while leading ran %d times", len(rs))
	}
	t.Logf("latest run recorded %v after its instant", worst)
}

// TestMissedRunsAfterDowntime: schedules due while no scheduler ran run
// once for their latest instant within the grace; one further back is
// reported missed and waits for its next instant; none catches up with a
// burst.
func TestMissedRunsAfterDowntime(t *testing.T) {
	const grace = 2 * time.Second
	s := newStack(t, int(grace/time.Second))
	coalesced := s.createInterval("coalesced", 1)
	skipped := s.createInterval("skipped", 5)
	at := time.Now().Add(1500 * time.Millisecond).UTC()
	once := s.create("once", map[string]any{"method": "once", "date": at.Format("2006-01-02"),
		"time": at.Format("15:04:05.000")})

	// Down until the interval-5 schedule's first instant is 3 s old: past
	// the grace, and 2 s before its next instant.
	time.Sleep(time.Until(skipped.first.Add(3 * time.Second)))
	started := time.Now()
	a := s.startScheduler("a")

	testenv.WaitFor(t, 15*time.Second, "once skipped", func() error {
		if cur := s.get(once); cur.IsActive || cur.MissedRuns != 1 || cur.LastRunAt != nil || cur.NextRunAt != nil {
			return fmt.Errorf("once: %+v", cur)
		}
		return nil
	})
	testenv.WaitFor(t, 15*time.Second, "skipped schedule's next instant ran", func() error {
		if n := len(s.calls()[skipped.ID]); n < 1 {
			return fmt.Errorf("%d runs", n)
		}
		return nil
	})
	stop(t, a)
	s.settle()
	all := s.calls()

	if n := len(all[once.ID]); n != 0 {
		t.Errorf("once schedule beyond the grace ran %d times", n)
	}
	// The interval-5 schedule: its first instant is reported missed, not
	// run; the one after it runs.
	cur := s.get(skipped)
	if cur.MissedRuns != 1 || cur.LastMissedAt == nil || !parseTime(t, *cur.LastMissedAt).Equal(skipped.first) {
		t.Errorf("skipped: %+v, want one miss at %v", cur, skipped.first)
	}
	if rs := s.runs(skipped, all[skipped.ID]); len(rs) == 0 || rs[0].k != 1 {
		t.Errorf("skipped: runs for instants %v, want 1, …", instants(rs))
	}
	// The interval-1 schedule was due about eight times while down: it
	// ran once, for an instant at most its interval before the scheduler
	// started (or the one after, if the api coalesced that into it), then
	// for every instant.
	rs := s.runs(coalesced, all[coalesced.ID])
	if len(rs) == 0 {
		t.Fatalf("coalesced: no runs")
	}
	if first := rs[0]; first.due.Before(started.Add(-coalesced.every)) {
		t.Errorf("coalesced: caught up with instant %d (%v) though the scheduler started at %v", first.k,
			first.due, started)
	}
	checkChain(t, coalesced, rs, rs[0].k)
	if cur := s.get(coalesced); cur.MissedRuns > 1 {
		t.Errorf("coalesced: %d missed runs recorded", cur.MissedRuns)
	}
}

// TestHandOverFiresOnce: the leader stops mid-run, the standby takes over
// and goes on from the stored times; no fire is stored twice, every
// instant due while a scheduler led runs, and every schedule keeps
// running.
func TestHandOverFiresOnce(t *testing.T) {
	s := newStack(t, 0)
	var scheds []sched
	for i := 0; i < 20; i++ {
		scheds = append(scheds, s.createInterval(fmt.Sprintf("s%02d", i), 1))
	}
	a := s.startScheduler("a")
	s.waitRuns(scheds[0], 2, 20*time.Second)
	b := s.startScheduler("b")
	testenv.WaitFor(t, 10*time.Second, "b stands by", func() error {
		if l := s.leaders(); !l["a"] || len(l) != 2 {
			return fmt.Errorf("leaders %v", l)
		}
		return nil
	})
	time.Sleep(time.Second)
	stopping := time.Now()
	stop(t, a)
	stopped := time.Now()
	testenv.WaitFor(t, 15*time.Second, "b leads", func() error {
		if l := s.leaders(); !l["b"] {
			return fmt.Errorf("leaders %v", l)
		}
		return nil
	})
	took := time.Now()
	time.Sleep(3 * time.Second)
	end := time.Now()
	stop(t, b)
	stored := s.settle()

	// a fired every instant before it stopped, b every instant from
	// shortly after it took over until it stopped; the instants between
	// were due while nobody led.
	all := s.calls()
	var recorded uint64
	for _, sc := range scheds {
		rs := s.runs(sc, all[sc.ID])
		have := map[int]bool{}
		for _, r := range rs {
			have[r.k] = true
		}
		for k, at := 0, sc.first; at.Before(end.Add(-250 * time.Millisecond)); k, at = k+1, at.Add(sc.every) {
			if (at.Before(stopping.Add(-250*time.Millisecond)) || at.After(took.Add(500*time.Millisecond))) && !have[k] {
				t.Errorf("%s: instant %d (%v) did not run (a stopped %v–%v, b led by %v)", sc.Name, k, at,
					stopping, stopped, took)
			}
		}
		cur := s.get(sc)
		recorded += uint64(len(rs) + cur.MissedRuns)
	}
	// Every fire the bus stored became one run or one recorded miss: a
	// fire published by both schedulers was stored once.
	if stored != recorded {
		t.Errorf("the bus stored %d fires, the api recorded %d runs and misses", stored, recorded)
	}
	t.Logf("hand-over: a stopped in %v, b led %v later; %d fires stored", stopped.Sub(stopping),
		took.Sub(stopped), stored)
}
