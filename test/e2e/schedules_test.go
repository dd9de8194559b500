package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/schedule"
)

type schedulerRole struct {
	Role   string `json:"role"`
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	Leader *bool  `json:"leader"`
}

func (in *instance) schedulers() ([]schedulerRole, error) {
	out, err := run(in.t, in.dir, in.env, "status", "--json")
	if err != nil {
		return nil, fmt.Errorf("status: %v: %s", err, out)
	}
	var st struct {
		Roles []schedulerRole `json:"roles"`
	}
	if err := jsonUnmarshal([]byte(out), &st); err != nil {
		return nil, err
	}
	var s []schedulerRole
	for _, r := range st.Roles {
		if r.Role == "scheduler" {
			s = append(s, r)
		}
	}
	return s, nil
}

// TestSchedulerFailoverExactlyOnce runs two scheduler processes (the one
// `serve` supervises and a second joining its bus), 100 schedules, and
// kills the leader with SIGKILL mid-run: every due instant must run
// exactly once, as the call records show.
//
// The acceptance run (100 one-minute schedules for ten minutes) takes
// ten minutes; by default the test scales it to 20-second interval
// schedules for 100 seconds, which keeps the same relation to the lease
// (a takeover, at most ~14 s, is shorter than one period, so no due
// instant is coalesced away). TINYBASE_E2E_SCHEDULER_FULL=1 runs the full
// version with cron "* * * * *".
func TestSchedulerFailoverExactlyOnce(t *testing.T) {
	full := os.Getenv("TINYBASE_E2E_SCHEDULER_FULL") == "1"
	period, window := 20*time.Second, 100*time.Second
	spec := map[string]any{"method": "interval", "unit": "seconds", "value": 20}
	if full {
		period, window = time.Minute, 10*time.Minute
		spec = map[string]any{"method": "cron", "cron": "* * * * *", "timezone": "Europe/Berlin"}
	}
	dir := initProject(t)
	in := serve(t, dir, 2)

	second := exec.Command(binary, "scheduler", "--dir", dir, "--id", "scheduler-2",
		"--bus-url", "nats://127.0.0.1:"+strconv.Itoa(in.busPort))
	second.Env = append(os.Environ(), in.env...)
	logs := &syncBuffer{}
	second.Stdout, second.Stderr = logs, logs
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = second.Process.Kill()
		_, _ = second.Process.Wait()
		if t.Failed() {
			t.Logf("scheduler-2 log:\n%s", logs.String())
		}
	})
	waitFor(t, 30*time.Second, "two schedulers, one leading", func() error {
		s, err := in.schedulers()
		if err != nil {
			return err
		}
		leaders := 0
		for _, r := range s {
			if r.Leader != nil && *r.Leader {
				leaders++
			}
		}
		if len(s) != 2 || leaders != 1 {
			return fmt.Errorf("schedulers %+v", s)
		}
		return nil
	})
	waitFor(t, 60*time.Second, "hello callable", func() error {
		code, body := in.do("POST", "/api/functions/hello", "", map[string]string{"name": "Ada"}, nil)
		if code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	token := in.login("admin@example.com", "admin12345")

	type sched struct {
		ID        string  `json:"id"`
		NextRunAt *string `json:"next_run_at"`
	}
	var scheds []sched
	t0 := time.Now()
	for i := 0; i < 100; i++ {
		var s sched
		code, body := in.do("POST", "/api/admin/schedules", token, map[string]any{"name": fmt.Sprintf("s%03d", i),
			"function_name": "hello", "schedule": spec, "input_data": map[string]any{"name": strconv.Itoa(i)}}, &s)
		if code != 201 || s.NextRunAt == nil {
			t.Fatalf("create: %d %s", code, body)
		}
		scheds = append(scheds, s)
	}
	t.Logf("100 schedules created in %v", time.Since(t0))

	// Kill the leader part way through, three seconds before an instant,
	// so that instant comes due while nobody leads and the new leader must
	// fire it late.
	first, err := time.Parse(time.RFC3339Nano, *scheds[0].NextRunAt)
	if err != nil {
		t.Fatal(err)
	}
	k := (window*45/100 - first.Sub(t0)) / period
	time.Sleep(time.Until(first.Add(k*period - 3*time.Second)))
	s, err := in.schedulers()
	if err != nil {
		t.Fatal(err)
	}
	killed := ""
	for _, r := range s {
		if r.Leader != nil && *r.Leader {
			killed = r.ID
			if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	if killed == "" {
		t.Fatalf("no leader to kill: %+v", s)
	}
	killedAt := time.Now()
	t.Logf("killed leader %s", killed)
	waitFor(t, 30*time.Second, "a new leader", func() error {
		s, err := in.schedulers()
		if err != nil {
			return err
		}
		for _, r := range s {
			if r.Leader != nil && *r.Leader {
				return nil
			}
		}
		return fmt.Errorf("no leader: %+v", s)
	})
	t.Logf("new leader after %v", time.Since(killedAt))

	cutoff := t0.Add(window)
	time.Sleep(time.Until(cutoff))
	// Expected: every instant up to the cutoff; those in the next period
	// may or may not have run by the time we look.
	expected, allowed := map[string]string{}, map[string]bool{}
	for _, sc := range scheds {
		first, err := time.Parse(time.RFC3339Nano, *sc.NextRunAt)
		if err != nil {
			t.Fatal(err)
		}
		for at := first; !at.After(cutoff.Add(3 * period)); at = at.Add(period) {
			id := schedule.CallID(sc.ID, at)
			allowed[id] = true
			if !at.After(cutoff) {
				expected[id] = sc.ID + " at " + at.Format(time.RFC3339)
			}
		}
	}
	type call struct {
		ID        string  `json:"id"`
		Status    string  `json:"status"`
		TriggerID *string `json:"trigger_id"`
	}
	var got map[string]call
	waitFor(t, 60*time.Second, "every due instant run and finished", func() error {
		got = map[string]call{}
		for offset := 0; ; offset += 1000 {
			var page struct {
				Calls []call `json:"calls"`
				Total int    `json:"total"`
			}
			code, body := in.do("GET", fmt.Sprintf("/api/admin/functions/calls?trigger_type=schedule&limit=1000&offset=%d", offset), token, nil, &page)
			if code != 200 {
				return fmt.Errorf("calls: %d %s", code, body)
			}
			for _, c := range page.Calls {
				got[c.ID] = c
			}
			if offset+1000 >= page.Total {
				break
			}
		}
		for id, what := range expected {
			c, ok := got[id]
			if !ok {
				return fmt.Errorf("no call for %s", what)
			}
			if c.Status != "succeeded" {
				return fmt.Errorf("call for %s is %s", what, c.Status)
			}
		}
		return nil
	})
	for id, c := range got {
		if !allowed[id] {
			t.Errorf("unexpected scheduled call %s (trigger %v): a duplicate or an instant that was not due", id, c.TriggerID)
		}
	}
	t.Logf("%d due instants ran exactly once (%d calls in all); leader %s killed mid-run", len(expected), len(got), killed)
}
