package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/api"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/scheduler"
	"github.com/tinybase/tinybase/pkg/worker"
)

// client bounds every request so a stuck api fails the test instead of
// hanging it.
var client = &http.Client{Timeout: 30 * time.Second}

// stack is a project with the real api and a worker running in-process
// against an embedded bus; tests start and stop schedulers on it and
// observe fires through the api's call records and schedule rows.
type stack struct {
	t     *testing.T
	env   *testenv.Env
	base  string
	token string
	probe *bus.Conn
}

// newStack starts the api and a worker, waits until the worker has
// described the example function, and signs in as the admin. A grace
// above zero sets [scheduler] missed_run_grace_seconds for the api and
// every scheduler started later.
func newStack(t *testing.T, graceSeconds int) *stack {
	t.Helper()
	env := testenv.New(t)
	if graceSeconds > 0 {
		env.Config.Scheduler.MissedRunGraceSeconds = graceSeconds
	}
	ln := testenv.Listen(t)
	s := &stack{t: t, env: env, base: "http://" + ln.Addr().String()}
	env.Start("api", func(ctx context.Context) error {
		return api.Run(ctx, env.Config, api.Options{Logger: testenv.Logger(t, "api"), Listener: ln})
	})
	env.Start("w1", func(ctx context.Context) error {
		return worker.Run(ctx, env.Config, worker.Options{ID: "w1", Logger: testenv.Logger(t, "w1")})
	})
	testenv.WaitFor(t, 30*time.Second, "hello listed", func() error {
		var fns []map[string]any
		if code := s.do("GET", "/api/functions", nil, &fns); code != http.StatusOK {
			return fmt.Errorf("list functions: %d", code)
		}
		for _, f := range fns {
			if f["name"] == "hello" {
				return nil
			}
		}
		return fmt.Errorf("functions: %v", fns)
	})
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if code := s.do("POST", "/api/auth/login", map[string]string{"email": "admin@example.com",
		"password": "admin12345"}, &login); code != http.StatusOK || login.AccessToken == "" {
		t.Fatalf("login: %d", code)
	}
	s.token = login.AccessToken
	user, pass := env.Config.BusCredentials()
	probe, err := bus.Connect(context.Background(), bus.ConnectOptions{URL: env.Config.BusURL(), User: user,
		Password: pass, Name: "test-probe", Logger: testenv.Logger(t, "probe")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(probe.Close)
	s.probe = probe
	return s
}

// startScheduler runs a scheduler with its own context until it is
// stopped or the test ends.
func (s *stack) startScheduler(id string) *testenv.Role {
	return s.env.Start("scheduler-"+id, func(ctx context.Context) error {
		return scheduler.Run(ctx, s.env.Config, scheduler.Options{ID: id, Logger: testenv.Logger(s.t, "scheduler-"+id)})
	})
}

func stop(t *testing.T, r *testenv.Role) {
	t.Helper()
	if err := r.Stop(t); err != nil {
		t.Fatalf("scheduler stopped with %v", err)
	}
}

// do sends a JSON request as the admin and decodes the answer into out.
func (s *stack) do(method, path string, body, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// sched is a schedule as the api reports it.
type sched struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	IsActive     bool    `json:"is_active"`
	LastRunAt    *string `json:"last_run_at"`
	NextRunAt    *string `json:"next_run_at"`
	MissedRuns   int     `json:"missed_runs"`
	LastMissedAt *string `json:"last_missed_at"`

	// first is the next_run_at the schedule was created with.
	first time.Time
	every time.Duration
}

func every(seconds int) map[string]any {
	return map[string]any{"method": "interval", "unit": "seconds", "value": seconds}
}

// createInterval creates an active interval schedule of the example
// function; its instants are first, first+d, first+2d, …
func (s *stack) createInterval(name string, seconds int) sched {
	s.t.Helper()
	sc := s.create(name, every(seconds))
	sc.every = time.Duration(seconds) * time.Second
	return sc
}

func (s *stack) create(name string, spec map[string]any) sched {
	s.t.Helper()
	var sc sched
	if code := s.do("POST", "/api/admin/schedules", map[string]any{"name": name, "function_name": "hello",
		"schedule": spec, "input_data": map[string]any{"name": name}}, &sc); code != http.StatusCreated ||
		sc.NextRunAt == nil {
		s.t.Fatalf("create %s: %d %+v", name, code, sc)
	}
	sc.first = parseTime(s.t, *sc.NextRunAt)
	return sc
}

// get reads a schedule's current row.
func (s *stack) get(sc sched) sched {
	s.t.Helper()
	var cur sched
	if code := s.do("GET", "/api/admin/schedules/"+sc.ID, nil, &cur); code != http.StatusOK {
		s.t.Fatalf("get %s: %d", sc.Name, code)
	}
	cur.first, cur.every = sc.first, sc.every
	return cur
}

func parseTime(t *testing.T, v string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("time %q: %v", v, err)
	}
	return at
}

// call is a call record of a scheduled run.
type call struct {
	ID        string  `json:"id"`
	TriggerID *string `json:"trigger_id"`
	CreatedAt string  `json:"created_at"`
}

// calls returns the scheduled calls recorded so far, by schedule id.
func (s *stack) calls() map[string][]call {
	s.t.Helper()
	out := map[string][]call{}
	seen := map[string]bool{}
	for offset := 0; ; offset += 1000 {
		var page struct {
			Calls []call `json:"calls"`
			Total int    `json:"total"`
		}
		if code := s.do("GET", "/api/admin/functions/calls?trigger_type=schedule&limit=1000&offset="+
			strconv.Itoa(offset), nil, &page); code != http.StatusOK {
			s.t.Fatalf("list calls: %d", code)
		}
		for _, c := range page.Calls {
			if c.TriggerID != nil && !seen[c.ID] {
				seen[c.ID] = true
				out[*c.TriggerID] = append(out[*c.TriggerID], c)
			}
		}
		if len(page.Calls) < 1000 || offset+1000 >= page.Total {
			return out
		}
	}
}

// ran is a call placed on its schedule's chain of instants.
type ran struct {
	k       int // the call is for instant first + k*every
	due     time.Time
	created time.Time
}

// runs places the calls of an interval schedule on its instants, in order
// of instant. A call whose id belongs to no instant up to now fails the
// test: the fire it came from was for a wrong instant.
func (s *stack) runs(sc sched, cs []call) []ran {
	s.t.Helper()
	byID := map[string]int{}
	for k, at := 0, sc.first; !at.After(time.Now().Add(sc.every)); k, at = k+1, at.Add(sc.every) {
		byID[schedule.CallID(sc.ID, at)] = k
	}
	out := make([]ran, 0, len(cs))
	for _, c := range cs {
		k, ok := byID[c.ID]
		if !ok {
			s.t.Errorf("%s: call %s is for none of its instants", sc.Name, c.ID)
			continue
		}
		out = append(out, ran{k: k, due: sc.first.Add(time.Duration(k) * sc.every),
			created: parseTime(s.t, c.CreatedAt)})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].k < out[j-1].k; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// waitRuns waits until sc has at least n calls.
func (s *stack) waitRuns(sc sched, n int, d time.Duration) {
	s.t.Helper()
	testenv.WaitFor(s.t, d, fmt.Sprintf("%d runs of %s", n, sc.Name), func() error {
		if got := len(s.calls()[sc.ID]); got < n {
			return fmt.Errorf("%d runs", got)
		}
		return nil
	})
}

// settle waits until the api has taken every stored fire off the queue,
// and returns how many fires the bus has stored in all: the stream's last
// sequence, which a publish dropped as a duplicate does not advance.
func (s *stack) settle() uint64 {
	s.t.Helper()
	var stored uint64
	testenv.WaitFor(s.t, 20*time.Second, "fires consumed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := s.probe.JS.Stream(ctx, bus.FiresStream)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d fires queued", info.State.Msgs)
		}
		stored = info.State.LastSeq
		return nil
	})
	return stored
}

// leaders reports which schedulers say they lead.
func (s *stack) leaders() map[string]bool {
	roles, err := bus.CollectStatus(context.Background(), s.probe.NC, 300*time.Millisecond)
	out := map[string]bool{}
	if err != nil {
		return out
	}
	for _, r := range roles {
		if r.Role == "scheduler" && r.Leader != nil {
			out[r.ID] = *r.Leader
		}
	}
	return out
}
