package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/scheduler"
)

// sreq sends a JSON request and decodes the answer into out.
func sreq(t *testing.T, method, url, token string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, string(raw)
}

type scheduleJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	FunctionName string          `json:"function_name"`
	Schedule     json.RawMessage `json:"schedule"`
	InputData    json.RawMessage `json:"input_data"`
	IsActive     bool            `json:"is_active"`
	LastRunAt    *string         `json:"last_run_at"`
	NextRunAt    *string         `json:"next_run_at"`
	MissedRuns   int             `json:"missed_runs"`
	CreatedBy    *string         `json:"created_by_user_id"`
}

type callJSON struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	TriggerType string  `json:"trigger_type"`
	TriggerID   *string `json:"trigger_id"`
}

func scheduleCalls(t *testing.T, base, token, id string) []callJSON {
	var out struct {
		Calls []callJSON `json:"calls"`
	}
	sreq(t, "GET", base+"/api/admin/functions/calls?trigger_type=schedule&limit=1000", token, nil, &out)
	var mine []callJSON
	for _, c := range out.Calls {
		if c.TriggerID != nil && *c.TriggerID == id {
			mine = append(mine, c)
		}
	}
	return mine
}

// TestScheduleEndpoints covers the admin endpoints and their validation;
// no scheduler runs.
func TestScheduleEndpoints(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	token := login(t, base)
	u := base + "/api/admin/schedules"

	var sc scheduleJSON
	code, body := sreq(t, "POST", u, token, `{"name": "nightly", "function_name": "hello",
		"schedule": {"method": "cron", "cron": "0 2 * * *", "timezone": "America/New_York"},
		"input_data": {"name": "Ada"}}`, &sc)
	if code != 201 || sc.ID == "" || !sc.IsActive || sc.NextRunAt == nil || sc.CreatedBy == nil {
		t.Fatalf("create: %d %s", code, body)
	}
	if !strings.Contains(body, `"schedule":{"method":"cron","cron":"0 2 * * *","timezone":"America/New_York"}`) {
		t.Errorf("schedule not stored verbatim: %s", body)
	}
	next, _ := time.Parse(time.RFC3339Nano, *sc.NextRunAt)
	if loc, _ := time.LoadLocation("America/New_York"); next.In(loc).Hour() != 2 && next.In(loc).Hour() != 3 {
		t.Errorf("next_run_at %s is not 02:00 New York", *sc.NextRunAt)
	}

	// Every invalid specification is a 400 with the reason; nothing saved.
	invalid := []struct {
		spec   string
		reason string
	}{
		{`{"method":"cron","cron":"61 * * * *"}`, "out of range"},
		{`{"method":"cron","cron":"0 2 * *"}`, "five fields"},
		{`{"method":"cron","cron":"0 2 * * *","timezone":"Nowhere/Town"}`, "unknown time zone"},
		{`{"method":"once","date":"2020-01-01","time":"10:00"}`, "in the past"},
		{`{"method":"interval","unit":"minutes","value":0}`, "greater than 0"},
		{`{"method":"interval","unit":"fortnights","value":1}`, "unit"},
		{`{"type":"cron","cron":"* * * * *"}`, "Unknown schedule method"},
		{`{"method":"cron","cron":"* * * * *","payload":{}}`, "unknown key"},
	}
	for _, c := range invalid {
		code, body := sreq(t, "POST", u, token, `{"name":"bad","function_name":"hello","schedule":`+c.spec+`}`, nil)
		if code != 400 || !strings.Contains(body, "Invalid schedule configuration") || !strings.Contains(body, c.reason) {
			t.Errorf("%s: %d %s", c.spec, code, body)
		}
	}
	if code, body := sreq(t, "POST", u, token, map[string]any{"name": "x", "function_name": "nope",
		"schedule": map[string]any{"method": "cron", "cron": "* * * * *"}}, nil); code != 400 ||
		!strings.Contains(body, "Function 'nope' not found") {
		t.Errorf("unknown function: %d %s", code, body)
	}
	for _, b := range []string{`{"function_name":"hello","schedule":{"method":"cron","cron":"* * * * *"}}`,
		`{"name":"","function_name":"hello","schedule":{"method":"cron","cron":"* * * * *"}}`,
		`{"name":"x","function_name":"hello"}`, `{"name":"x","function_name":"hello","schedule":[]}`,
		`{"name":"x","function_name":"hello","schedule":{"method":"cron","cron":"* * * * *"},"input_data":[1]}`} {
		if code, body := sreq(t, "POST", u, token, b, nil); code != 422 {
			t.Errorf("%s: %d %s", b, code, body)
		}
	}

	// Input data is checked against the function's input schema, on create
	// and on change: a schedule that could only fail is refused.
	code, body = sreq(t, "POST", u, token, `{"name":"typed","function_name":"hello",
		"schedule":{"method":"cron","cron":"* * * * *"},"input_data":{"name":5}}`, nil)
	if code != 422 || !strings.Contains(body, `"field":"input_data.name"`) {
		t.Errorf("create with input_data the function refuses: %d %s", code, body)
	}
	code, body = sreq(t, "PATCH", u+"/"+sc.ID, token, `{"input_data":{"name":[1]}}`, nil)
	if code != 422 || !strings.Contains(body, `"field":"input_data.name"`) {
		t.Errorf("change to input_data the function refuses: %d %s", code, body)
	}

	// A second, inactive schedule; list filters and pagination.
	var paused scheduleJSON
	if code, body := sreq(t, "POST", u, token, map[string]any{"name": "paused", "function_name": "hello",
		"schedule": map[string]any{"method": "interval", "unit": "hours", "value": 1}, "is_active": false}, &paused); code != 201 ||
		paused.NextRunAt != nil {
		t.Fatalf("create inactive: %d %s", code, body)
	}
	var list struct {
		Schedules []scheduleJSON `json:"schedules"`
		Total     int            `json:"total"`
		Limit     int            `json:"limit"`
		Offset    int            `json:"offset"`
	}
	sreq(t, "GET", u, token, nil, &list)
	if list.Total != 2 || len(list.Schedules) != 2 || list.Limit != 100 {
		t.Errorf("list: %+v", list)
	}
	sreq(t, "GET", u+"?is_active=false", token, nil, &list)
	if list.Total != 1 || list.Schedules[0].ID != paused.ID {
		t.Errorf("is_active filter: %+v", list)
	}
	sreq(t, "GET", u+"?limit=1&offset=1&function_name=hello", token, nil, &list)
	if list.Total != 2 || len(list.Schedules) != 1 || list.Limit != 1 || list.Offset != 1 {
		t.Errorf("pagination: %+v", list)
	}
	if code, _ := sreq(t, "GET", u+"?limit=0", token, nil, nil); code != 422 {
		t.Errorf("limit=0: %d", code)
	}

	// Get, patch, preview, delete.
	if code, _ := sreq(t, "GET", u+"/"+sc.ID, token, nil, nil); code != 200 {
		t.Errorf("get: %d", code)
	}
	if code, _ := sreq(t, "GET", u+"/00000000-0000-0000-0000-000000000000", token, nil, nil); code != 404 {
		t.Errorf("get unknown: %d", code)
	}
	if code, _ := sreq(t, "GET", u+"/not-a-uuid", token, nil, nil); code != 422 {
		t.Errorf("get non-uuid: %d", code)
	}
	var patched scheduleJSON
	code, body = sreq(t, "PATCH", u+"/"+sc.ID, token, map[string]any{"name": "renamed",
		"schedule": map[string]any{"method": "interval", "unit": "minutes", "value": 5}}, &patched)
	if code != 200 || patched.Name != "renamed" || patched.NextRunAt == nil || *patched.NextRunAt == *sc.NextRunAt {
		t.Errorf("patch: %d %s", code, body)
	}
	if code, body := sreq(t, "PATCH", u+"/"+sc.ID, token, map[string]any{
		"schedule": map[string]any{"method": "cron", "cron": "bad"}}, nil); code != 400 {
		t.Errorf("patch invalid: %d %s", code, body)
	}
	sreq(t, "PATCH", u+"/"+sc.ID, token, map[string]any{"is_active": false}, &patched)
	if patched.IsActive || patched.NextRunAt != nil {
		t.Errorf("deactivate: %+v", patched)
	}
	sreq(t, "PATCH", u+"/"+sc.ID, token, map[string]any{"is_active": true}, &patched)
	if !patched.IsActive || patched.NextRunAt == nil {
		t.Errorf("reactivate: %+v", patched)
	}
	var prev struct {
		Next []string `json:"next"`
	}
	if code, body := sreq(t, "GET", u+"/"+sc.ID+"/preview?count=3", token, nil, &prev); code != 200 || len(prev.Next) != 3 ||
		prev.Next[0] != strings.Replace(strings.Replace(*patched.NextRunAt, ".000000Z", "Z", 1), "000Z", "Z", 1) && !strings.HasPrefix(*patched.NextRunAt, strings.TrimSuffix(prev.Next[0], "Z")) {
		t.Errorf("preview stored: %d %s (next_run_at %s)", code, body, *patched.NextRunAt)
	}
	for _, c := range []struct {
		body string
		want string
	}{
		{`{"schedule":{"method":"cron","cron":"0 2 * * *","timezone":"America/New_York"},"after":"2026-03-08T06:50:00Z","count":2}`,
			`{"next":["2026-03-08T07:00:00Z","2026-03-09T06:00:00Z"]}`},
		{`{"schedule":{"method":"cron","cron":"30 1 * * *","timezone":"America/New_York"},"after":"2026-11-01T05:30:00Z","count":1}`,
			`{"next":["2026-11-02T06:30:00Z"]}`},
	} {
		if code, body := sreq(t, "POST", u+"/preview", token, c.body, nil); code != 200 || body != c.want {
			t.Errorf("preview %s: %d %s, want %s", c.body, code, body, c.want)
		}
	}
	if code, body := sreq(t, "POST", u+"/preview", token, `{"schedule":{"method":"cron","cron":"0 25 * * *"}}`, nil); code != 400 {
		t.Errorf("preview invalid: %d %s", code, body)
	}
	if code, _ := sreq(t, "DELETE", u+"/"+paused.ID, token, nil, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, _ := sreq(t, "DELETE", u+"/"+paused.ID, token, nil, nil); code != 404 {
		t.Errorf("delete again: %d", code)
	}
	if code, _ := sreq(t, "GET", u, "", nil, nil); code != 401 {
		t.Errorf("anonymous list: %d", code)
	}
}

// TestSchedulesFire runs api, worker and scheduler: an interval schedule
// fires at its instants with call ids derived from them, a once schedule
// fires once and retires, and run-now queues a call.
func TestSchedulesFire(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	env.Start("scheduler", func(ctx context.Context) error {
		return scheduler.Run(ctx, env.Config, scheduler.Options{ID: "s1", Logger: testenv.Logger(t, "scheduler")})
	})
	waitListed(t, base, "hello")
	token := login(t, base)
	u := base + "/api/admin/schedules"

	var every, once scheduleJSON
	sreq(t, "POST", u, token, map[string]any{"name": "every", "function_name": "hello",
		"schedule": map[string]any{"method": "interval", "unit": "seconds", "value": 1}, "input_data": map[string]any{"name": "Ada"}}, &every)
	at := time.Now().Add(2 * time.Second).UTC()
	sreq(t, "POST", u, token, map[string]any{"name": "once", "function_name": "hello",
		"schedule": map[string]any{"method": "once", "date": at.Format("2006-01-02"), "time": at.Format("15:04:05")}}, &once)
	if every.NextRunAt == nil || once.NextRunAt == nil {
		t.Fatalf("create: %+v %+v", every, once)
	}
	first, _ := time.Parse(time.RFC3339Nano, *every.NextRunAt)

	testenv.WaitFor(t, 30*time.Second, "three fires, all succeeded", func() error {
		calls := scheduleCalls(t, base, token, every.ID)
		done := 0
		for _, c := range calls {
			if c.Status == "succeeded" {
				done++
			}
		}
		if done < 3 {
			return fmt.Errorf("%d of %d calls done", done, len(calls))
		}
		return nil
	})
	calls := scheduleCalls(t, base, token, every.ID)
	ids := map[string]bool{}
	for _, c := range calls {
		ids[c.ID] = true
	}
	for k := 0; k < 3; k++ {
		if id := schedule.CallID(every.ID, first.Add(time.Duration(k)*time.Second)); !ids[id] {
			t.Errorf("no call %s for instant %d (calls %v)", id, k, calls)
		}
	}
	testenv.WaitFor(t, 20*time.Second, "once retired", func() error {
		var sc scheduleJSON
		sreq(t, "GET", u+"/"+once.ID, token, nil, &sc)
		if sc.IsActive || sc.LastRunAt == nil || sc.NextRunAt != nil {
			return fmt.Errorf("once: %+v", sc)
		}
		if n := len(scheduleCalls(t, base, token, once.ID)); n != 1 {
			return fmt.Errorf("once ran %d times", n)
		}
		return nil
	})
	var sc scheduleJSON
	sreq(t, "GET", u+"/"+every.ID, token, nil, &sc)
	if sc.LastRunAt == nil || sc.NextRunAt == nil {
		t.Errorf("times not reported back: %+v", sc)
	}

	// Run now on the retired once schedule.
	var run struct {
		CallID string `json:"call_id"`
	}
	if code, body := sreq(t, "POST", u+"/"+once.ID+"/run", token, nil, &run); code != 202 || run.CallID == "" {
		t.Fatalf("run now: %d %s", code, body)
	}
	testenv.WaitFor(t, 20*time.Second, "run-now call done", func() error {
		var c callJSON
		sreq(t, "GET", base+"/api/admin/functions/calls/"+run.CallID, token, nil, &c)
		if c.Status != "succeeded" || c.TriggerType != "schedule" || c.TriggerID == nil || *c.TriggerID != once.ID {
			return fmt.Errorf("call %+v", c)
		}
		return nil
	})

	// Deleting stops the fires.
	sreq(t, "DELETE", u+"/"+every.ID, token, nil, nil)
	time.Sleep(500 * time.Millisecond)
	n := len(scheduleCalls(t, base, token, every.ID))
	time.Sleep(2500 * time.Millisecond)
	if m := len(scheduleCalls(t, base, token, every.ID)); m != n {
		t.Errorf("deleted schedule went on firing: %d then %d calls", n, m)
	}
}

// TestMissedRunSkipped: a once schedule that came due while no scheduler
// ran, longer ago than the grace, is skipped and the skip recorded.
func TestMissedRunSkipped(t *testing.T) {
	env := testenv.New(t)
	env.Config.Scheduler.MissedRunGraceSeconds = 1
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	token := login(t, base)
	u := base + "/api/admin/schedules"
	at := time.Now().Add(time.Second).UTC()
	var once, every scheduleJSON
	sreq(t, "POST", u, token, map[string]any{"name": "once", "function_name": "hello",
		"schedule": map[string]any{"method": "once", "date": at.Format("2006-01-02"), "time": at.Format("15:04:05.000")}}, &once)
	sreq(t, "POST", u, token, map[string]any{"name": "every", "function_name": "hello",
		"schedule": map[string]any{"method": "interval", "unit": "seconds", "value": 1}}, &every)
	time.Sleep(4 * time.Second)
	env.Start("scheduler", func(ctx context.Context) error {
		return scheduler.Run(ctx, env.Config, scheduler.Options{ID: "s1", Logger: testenv.Logger(t, "scheduler")})
	})
	testenv.WaitFor(t, 20*time.Second, "once skipped", func() error {
		var sc scheduleJSON
		sreq(t, "GET", u+"/"+once.ID, token, nil, &sc)
		if sc.IsActive || sc.MissedRuns != 1 || sc.LastRunAt != nil {
			return fmt.Errorf("once: %+v", sc)
		}
		return nil
	})
	if n := len(scheduleCalls(t, base, token, once.ID)); n != 0 {
		t.Errorf("skipped once schedule ran %d times", n)
	}
	// The interval schedule was due four times: it ran once for the latest
	// instant, then goes on.
	testenv.WaitFor(t, 20*time.Second, "interval resumed", func() error {
		if n := len(scheduleCalls(t, base, token, every.ID)); n < 2 {
			return fmt.Errorf("%d calls", n)
		}
		return nil
	})
	calls := scheduleCalls(t, base, token, every.ID)
	first, _ := time.Parse(time.RFC3339Nano, *every.NextRunAt)
	for _, c := range calls {
		if c.ID == schedule.CallID(every.ID, first) {
			t.Errorf("the first missed instant ran instead of being coalesced")
		}
	}
}
