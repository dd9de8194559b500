package scheduler

import (
	"fmt"
	"testing"
	"time"
)

func every(seconds int) string {
	return fmt.Sprintf(`{"method":"interval","unit":"seconds","value":%d}`, seconds)
}

// TestFiresOnTime: interval schedules fire at each instant, once, within
// milliseconds, and change events add and remove schedules.
func TestFiresOnTime(t *testing.T) {
	w := newWorld(t)
	w.api.put("probe", every(1), time.Now().Add(time.Second), true)
	s := w.start("a")
	defer s.stop(t)
	waitFor(t, 20*time.Second, "leading", func() error {
		if n := len(w.api.firesOf("probe")); n < 1 {
			return fmt.Errorf("%d fires", n)
		}
		return nil
	})
	start := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second)
	for i := 0; i < 20; i++ {
		w.api.put(fmt.Sprintf("s%02d", i), every(1), start, true)
	}
	waitFor(t, 10*time.Second, "first fires", func() error {
		if n := len(w.api.firesOf("s00")); n < 1 {
			return fmt.Errorf("%d fires", n)
		}
		return nil
	})
	// Changes while leading: a new schedule, one removed, one paused.
	w.api.put("late", every(1), time.Now().Add(time.Second).Truncate(time.Second), true)
	w.api.remove("s01")
	w.api.put("s02", every(1), time.Time{}, false)
	time.Sleep(3500 * time.Millisecond)
	s.stop(t)

	for i := 0; i < 20; i++ {
		fires := w.api.firesOf(fmt.Sprintf("s%02d", i))
		for k, f := range fires {
			due := time.UnixMicro(f.DueAtUs)
			if want := start.Add(time.Duration(k) * time.Second); !due.Equal(want) {
				t.Errorf("s%02d fire %d for %v, want %v", i, k, due, want)
			}
			if late := time.UnixMicro(f.PublishedAtUs).Sub(due); late < 0 || late > 250*time.Millisecond {
				t.Errorf("s%02d fire %d published %v after its instant", i, k, late)
			}
			if f.Missed {
				t.Errorf("s%02d fire %d marked missed", i, k)
			}
		}
		switch {
		case i == 1 || i == 2:
			if n := len(fires); n > 3 {
				t.Errorf("s%02d fired %d times after it was removed or paused", i, n)
			}
		case len(fires) < 4:
			t.Errorf("s%02d fired only %d times", i, len(fires))
		}
	}
	if n := len(w.api.firesOf("late")); n < 2 {
		t.Errorf("schedule created while leading fired %d times", n)
	}
	if d := w.api.duplicates(); len(d) > 0 {
		t.Errorf("fires stored twice: %v", d)
	}
}

// TestMissedRunsAfterDowntime: a schedule due while no scheduler ran fires
// once for its latest instant within the grace; one further back is
// reported missed; neither catches up with a burst.
func TestMissedRunsAfterDowntime(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	w.api.put("minutely", `{"method":"cron","cron":"* * * * *"}`, now.Add(-10*time.Minute).Truncate(time.Minute), true)
	w.api.put("daily", `{"method":"cron","cron":"0 3 * * *"}`, now.Add(-26*time.Hour), true)
	w.api.put("once", `{"method":"once","date":"2020-01-01","time":"00:00"}`, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), true)
	s := w.start("a")
	defer s.stop(t)
	waitFor(t, 10*time.Second, "catch-up fires", func() error {
		if len(w.api.firesOf("minutely")) < 1 || len(w.api.firesOf("daily")) < 1 || len(w.api.firesOf("once")) < 1 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	m := w.api.firesOf("minutely")
	if len(m) != 1 || m[0].Missed || time.UnixMicro(m[0].DueAtUs).Before(time.Now().Add(-time.Minute)) {
		t.Errorf("minutely after downtime: %v", m)
	}
	if d := w.api.firesOf("daily"); len(d) != 1 || !d[0].Missed || d[0].NextAtUs <= time.Now().UnixMicro() {
		t.Errorf("daily beyond grace: %v", d)
	}
	if o := w.api.firesOf("once"); len(o) != 1 || !o[0].Missed || o[0].NextAtUs != 0 {
		t.Errorf("once beyond grace: %v", o)
	}
}

// TestHandOverFiresOnce: the leader stops mid-run, the standby takes over
// and goes on from the stored times; no instant is stored twice and every
// schedule keeps firing.
func TestHandOverFiresOnce(t *testing.T) {
	w := newWorld(t)
	start := time.Now().Add(time.Second).Truncate(time.Second)
	for i := 0; i < 50; i++ {
		w.api.put(fmt.Sprintf("s%02d", i), every(1), start, true)
	}
	a := w.start("a")
	waitFor(t, 10*time.Second, "a fires", func() error {
		if len(w.api.firesOf("s00")) < 2 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	b := w.start("b")
	defer b.stop(t)
	time.Sleep(time.Second)
	a.stop(t)
	handed := time.Now()
	waitFor(t, 15*time.Second, "b fires", func() error {
		for _, f := range w.api.firesOf("s49") {
			if f.SchedulerId == "b" {
				return nil
			}
		}
		return fmt.Errorf("no fire from b")
	})
	time.Sleep(2 * time.Second)
	if d := w.api.duplicates(); len(d) > 0 {
		t.Errorf("fires stored twice: %v", d)
	}
	for i := 0; i < 50; i++ {
		fires := w.api.firesOf(fmt.Sprintf("s%02d", i))
		var last int64
		for _, f := range fires {
			if f.DueAtUs <= last {
				t.Errorf("s%02d: fire for %d after %d", i, f.DueAtUs, last)
			}
			last = f.DueAtUs
		}
		if time.UnixMicro(last).Before(handed) {
			t.Errorf("s%02d: no fire after the hand-over", i)
		}
	}
}
