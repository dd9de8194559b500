package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/scheduler"
)

// areq sends a JSON request and decodes the JSON answer into out.
func areq(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

type activityEntry struct {
	ID      int64          `json:"id"`
	At      string         `json:"at"`
	Kind    string         `json:"kind"`
	ActorID *string        `json:"actor_id"`
	Subject string         `json:"subject"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

type activityPage struct {
	Items      []activityEntry `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// waitActivity polls the log until an entry of kind about subject shows.
func waitActivity(t *testing.T, base, token, kind, subject string) activityEntry {
	t.Helper()
	var found activityEntry
	testenv.WaitFor(t, 20*time.Second, kind+" "+subject+" in the activity log", func() error {
		var p activityPage
		q := url.Values{"kind": {kind}, "subject": {subject}}
		if code := areq(t, "GET", base+"/api/admin/activity?"+q.Encode(), token, nil, &p); code != 200 {
			return fmt.Errorf("status %d", code)
		}
		if len(p.Items) == 0 {
			return fmt.Errorf("not yet")
		}
		found = p.Items[0]
		return nil
	})
	return found
}

func TestActivityLog(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	w1 := startWorker(t, env, "w1")
	token := login(t, base)
	var me map[string]any
	areq(t, "GET", base+"/api/auth/me", token, nil, &me)
	adminID := me["id"].(string)

	// A record and a function call both reach the log, with their actor.
	if code := areq(t, "POST", base+"/api/collections", token, map[string]any{"name": "notes", "label": "Notes",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "title", "type": "string"}}}},
		nil); code != 201 {
		t.Fatalf("create collection: %d", code)
	}
	var rec map[string]any
	if code := areq(t, "POST", base+"/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "a"}}, &rec); code != 201 {
		t.Fatalf("create record: %d", code)
	}
	e := waitActivity(t, base, token, "record.created", "notes/"+rec["id"].(string))
	if e.ActorID == nil || *e.ActorID != adminID || e.Data["collection"] != "notes" || e.Message == "" {
		t.Errorf("record entry = %+v", e)
	}
	waitListed(t, base, "hello")
	code, out := post(t, base+"/api/functions/hello", token, map[string]string{"name": "Ada"})
	if code != 200 {
		t.Fatalf("call: %d %v", code, out)
	}
	e = waitActivity(t, base, token, "function.call_finished", "hello")
	if e.Data["call_id"] != out["call_id"] || e.Data["status"] != "succeeded" || e.ActorID == nil {
		t.Errorf("call entry = %+v", e)
	}
	waitActivity(t, base, token, "user.login", adminID)
	waitActivity(t, base, token, "api.started", "api")
	waitActivity(t, base, token, "worker.joined", "w1")

	// Filters.
	for i := range 5 {
		areq(t, "POST", base+"/api/collections/notes/records", token,
			map[string]any{"data": map[string]any{"title": fmt.Sprint(i)}}, nil)
	}
	waitRecords := func() []activityEntry {
		var p activityPage
		testenv.WaitFor(t, 20*time.Second, "six record entries", func() error {
			areq(t, "GET", base+"/api/admin/activity?kind=record&limit=500", token, nil, &p)
			if len(p.Items) != 6 {
				return fmt.Errorf("%d entries", len(p.Items))
			}
			return nil
		})
		return p.Items
	}
	all := waitRecords()
	for _, e := range all {
		if !strings.HasPrefix(e.Kind, "record.") || !strings.HasPrefix(e.Subject, "notes/") {
			t.Errorf("kind=record gave %+v", e)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].At < all[i].At {
			t.Errorf("not newest first: %s before %s", all[i-1].At, all[i].At)
		}
	}
	var p activityPage
	areq(t, "GET", base+"/api/admin/activity?actor="+adminID+"&subject=notes&limit=500", token, nil, &p)
	if len(p.Items) != 6 {
		t.Errorf("actor+subject: %d entries, want 6", len(p.Items))
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	areq(t, "GET", base+"/api/admin/activity?since="+future, token, nil, &p)
	if len(p.Items) != 0 || p.NextCursor != nil {
		t.Errorf("since the future: %+v", p)
	}
	areq(t, "GET", base+"/api/admin/activity?kind=record&until="+url.QueryEscape(all[0].At), token, nil, &p)
	if len(p.Items) != 5 {
		t.Errorf("until newest: %d entries, want 5", len(p.Items))
	}

	// Cursor paging walks the same entries, two at a time.
	var paged []int64
	cursor := ""
	for range 10 {
		var pg activityPage
		if code := areq(t, "GET", base+"/api/admin/activity?kind=record&limit=2&cursor="+cursor, token, nil,
			&pg); code != 200 {
			t.Fatalf("page: %d", code)
		}
		for _, e := range pg.Items {
			paged = append(paged, e.ID)
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = url.QueryEscape(*pg.NextCursor)
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d entries, listed %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i] != all[i].ID {
			t.Fatalf("page order %v differs from list order", paged)
		}
	}

	// Bad parameters are 422 naming the parameter; non-admins are refused.
	for _, q := range []string{"limit=0", "limit=501", "since=yesterday", "until=2026-13-01", "cursor=zz!",
		"kind=Record"} {
		var body struct {
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		code := areq(t, "GET", base+"/api/admin/activity?"+q, token, nil, &body)
		name, _, _ := strings.Cut(q, "=")
		if code != 422 || len(body.Errors) != 1 || body.Errors[0].Field != name {
			t.Errorf("%s: %d %+v", q, code, body)
		}
	}
	if code := areq(t, "GET", base+"/api/admin/activity", "", nil, nil); code != 401 {
		t.Errorf("anonymous: %d", code)
	}

	// Retention is a validated runtime setting, and changing it is logged.
	for _, bad := range []any{-1, 3651} {
		if code := areq(t, "PATCH", base+"/api/admin/settings", token,
			map[string]any{"activity_retention_days": bad}, nil); code != 400 {
			t.Errorf("retention %v: %d, want 400", bad, code)
		}
	}
	var st map[string]any
	if code := areq(t, "PATCH", base+"/api/admin/settings", token, map[string]any{"activity_retention_days": 7},
		&st); code != 200 || st["activity_retention_days"] != 7.0 {
		t.Errorf("retention 7: %d %v", code, st["activity_retention_days"])
	}
	e = waitActivity(t, base, token, "settings.changed", "settings")
	if keys, _ := e.Data["keys"].([]any); len(keys) != 1 || keys[0] != "core.activity.retention_days" {
		t.Errorf("settings entry = %+v", e)
	}

	// A worker that stops says so, and the log shows it left.
	if err := w1.Stop(t); err != nil {
		t.Fatalf("stop worker: %v", err)
	}
	if e = waitActivity(t, base, token, "worker.lost", "w1"); e.Data["reason"] != "left" {
		t.Errorf("worker entry = %+v", e)
	}
}

// TestActivityStream: the stream takes its token from the query, sends
// new entries as server-sent events, and does not hold up shutdown.
func TestActivityStream(t *testing.T) {
	env := testenv.New(t)
	apiRole, base := startAPI(t, env)
	token := login(t, base)
	if code := areq(t, "POST", base+"/api/collections", token, map[string]any{"name": "notes", "label": "Notes",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "title", "type": "string"}}}},
		nil); code != 201 {
		t.Fatalf("create collection: %d", code)
	}

	if code := areq(t, "GET", base+"/api/admin/activity/stream", "", nil, nil); code != 401 {
		t.Fatalf("stream without token: %d", code)
	}
	// The query token works on this route only.
	if code := areq(t, "GET", base+"/api/admin/activity?token="+token, "", nil, nil); code != 401 {
		t.Fatalf("query token on the list: %d, want 401", code)
	}
	streamClient := &http.Client{Timeout: 30 * time.Second}
	resp, err := streamClient.Get(base + "/api/admin/activity/stream?token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The opening comment says the stream is subscribed.
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, ":") {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no opening comment")
	}
	var rec map[string]any
	if code := areq(t, "POST", base+"/api/collections/notes/records", token, map[string]any{"data": map[string]any{}},
		&rec); code != 201 {
		t.Fatalf("create record: %d %v", code, rec)
	}
	deadline := time.After(10 * time.Second)
	var streamed activityEntry
	for got := false; !got; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended early")
			}
			data, isData := strings.CutPrefix(l, "data: ")
			if !isData {
				continue
			}
			var e activityEntry
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			got = e.Kind == "record.created" && e.Subject == "notes/"+rec["id"].(string) && e.ID > 0
			streamed = e
		case <-deadline:
			t.Fatal("record.created not streamed")
		}
	}

	// A client that reconnects with Last-Event-ID gets what it missed first.
	req, _ := http.NewRequest("GET", base+"/api/admin/activity/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", fmt.Sprint(streamed.ID-1))
	again, err := streamClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(again.Body)
	var firstID string
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			firstID = id
			break
		}
	}
	again.Body.Close()
	if firstID != fmt.Sprint(streamed.ID) {
		t.Errorf("replay after %d started at id %q, want %d", streamed.ID-1, firstID, streamed.ID)
	}
	req.Header.Set("Last-Event-ID", "x")
	bad, err := streamClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != 422 {
		t.Errorf("bad Last-Event-ID: %d, want 422", bad.StatusCode)
	}

	// Logging out ends an open stream: its token no longer grants access.
	if code := areq(t, "POST", base+"/api/auth/logout", token, nil, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	token = login(t, base)
	stop := time.After(15 * time.Second)
	for open := true; open; {
		if code := areq(t, "POST", base+"/api/collections/notes/records", token,
			map[string]any{"data": map[string]any{}}, nil); code != 201 {
			t.Fatalf("create record: %d", code)
		}
		select {
		case _, open = <-lines:
			for open {
				select {
				case _, open = <-lines:
					continue
				case <-time.After(300 * time.Millisecond):
				}
				break
			}
		case <-time.After(300 * time.Millisecond):
		case <-stop:
			t.Fatal("the stream went on after its session was logged out")
		}
	}

	// Shutdown ends the stream instead of waiting for it.
	resp2, err := streamClient.Get(base + "/api/admin/activity/stream?token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	lines = make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp2.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	<-lines // the opening comment
	start := time.Now()
	if err := apiRole.Stop(t); err != nil {
		t.Fatalf("api stop: %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("shutdown with an open stream took %s", d)
	}
	for range lines { // drains until the server closes the stream
	}
}

// TestActivitySchedules: a run missed while no scheduler ran is logged as
// skipped, a run that happens as fired with its call.
func TestActivitySchedules(t *testing.T) {
	env := testenv.New(t)
	env.Config.Scheduler.MissedRunGraceSeconds = 1
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	waitListed(t, base, "hello")
	token := login(t, base)
	at := time.Now().Add(time.Second).UTC()
	var once, every struct {
		ID string `json:"id"`
	}
	areq(t, "POST", base+"/api/admin/schedules", token, map[string]any{"name": "once", "function_name": "hello",
		"schedule": map[string]any{"method": "once", "date": at.Format("2006-01-02"),
			"time": at.Format("15:04:05.000")}}, &once)
	areq(t, "POST", base+"/api/admin/schedules", token, map[string]any{"name": "every", "function_name": "hello",
		"schedule": map[string]any{"method": "interval", "unit": "seconds", "value": 1}}, &every)
	if once.ID == "" || every.ID == "" {
		t.Fatal("schedules not created")
	}
	time.Sleep(2500 * time.Millisecond) // the once run is now past the grace
	env.Start("scheduler", func(ctx context.Context) error {
		return scheduler.Run(ctx, env.Config, scheduler.Options{ID: "s1", Logger: testenv.Logger(t, "scheduler")})
	})
	if e := waitActivity(t, base, token, "schedule.skipped", once.ID); e.Data["name"] != "once" {
		t.Errorf("skipped entry = %+v", e)
	}
	e := waitActivity(t, base, token, "schedule.fired", every.ID)
	if e.Data["call_id"] == nil || e.Data["function"] != "hello" || e.ActorID != nil {
		t.Errorf("fired entry = %+v", e)
	}
}
