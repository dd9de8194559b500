package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type extStatus struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Status struct {
		State     string `json:"state"`
		LastError string `json:"last_error"`
		PID       int    `json:"pid"`
		Restarts  int    `json:"restarts"`
	} `json:"status"`
}

func (in *instance) extension(token, name string) extStatus {
	in.t.Helper()
	var st extStatus
	if code, body := in.do("GET", "/api/admin/extensions/"+name, token, nil, &st); code != 200 {
		in.t.Fatalf("get extension: %d %s", code, body)
	}
	return st
}

// TestExtensionWordfilter installs the example extension with the CLI into
// a running instance, checks that it refuses and stores what it should,
// then kills its process with SIGKILL in the middle of a burst of creates:
// the api keeps answering, the extension comes back and refuses again, and
// no forbidden record is ever stored (its policy is fail-closed).
func TestExtensionWordfilter(t *testing.T) {
	dir := initProject(t)
	in := serve(t, dir, 1)
	token := in.login("admin@example.com", "admin12345")

	src, err := filepath.Abs(filepath.Join("..", "..", "examples", "extensions", "wordfilter"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(in.env[:len(in.env):len(in.env)], "TINYBASE_API_EMAIL=admin@example.com",
		"TINYBASE_API_PASSWORD=admin12345")
	out, err := run(t, dir, env, "extensions", "install", src)
	if err != nil || !strings.Contains(out, "wordfilter") || !strings.Contains(out, "running") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	// An observer of every create, to check that after-hooks see each one.
	observer, _ := filepath.Abs(filepath.Join("..", "bench", "extensions", "observer"))
	if out, err := run(t, dir, env, "extensions", "install", "--policy", "open", observer); err != nil {
		t.Fatalf("install observer: %v\n%s", err, out)
	}
	out, err = run(t, dir, env, "extensions", "list")
	if err != nil || !strings.Contains(out, "wordfilter") {
		t.Fatalf("list: %v\n%s", err, out)
	}

	code, body := in.do("POST", "/api/collections", token, map[string]any{"name": "notes", "label": "Notes",
		"schema": map[string]any{"fields": []map[string]any{{"name": "title", "type": "string", "required": true}}}}, nil)
	if code != 201 {
		t.Fatalf("create collection: %d %s", code, body)
	}
	code, body = in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "this is forbidden"}}, nil)
	if code != 400 || !strings.Contains(body, "Field 'title' contains the forbidden word 'forbidden'") {
		t.Fatalf("forbidden record: %d %s", code, body)
	}
	code, body = in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "hello"}}, nil)
	if code != 201 {
		t.Fatalf("clean record: %d %s", code, body)
	}
	code, body = in.do("GET", "/api/ext/wordfilter/words", "", nil, nil)
	if code != 200 || body != `{"words":["forbidden"]}` {
		t.Fatalf("extension route: %d %s", code, body)
	}
	// Paths that could reach another route than the one authorised are
	// refused before matching; HEAD is served by the GET route.
	for _, p := range []string{"/api/ext/wordfilter/x/../words", "/api/ext/wordfilter/%2e%2e/wordfilter/words",
		"/api/ext/wordfilter/x/..%2Fwords", "/api/ext/wordfilter/./words"} {
		if code, body := in.do("GET", p, "", nil, nil); code != 400 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}
	if code, body := in.do("GET", "/api/ext/wordfilter/words?next=../x", "", nil, nil); code != 200 {
		t.Fatalf("dots in the query: %d %s", code, body)
	}
	if code, body := in.do("HEAD", "/api/ext/wordfilter/words", "", nil, nil); code != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", code, body)
	}

	// Its setting is validated against its schema and takes effect at once.
	code, body = in.do("PATCH", "/api/admin/settings", token, map[string]any{"ext.wordfilter.words": "spam"}, nil)
	if code != 400 || !strings.Contains(body, "ext.wordfilter.words") {
		t.Fatalf("invalid setting: %d %s", code, body)
	}
	code, body = in.do("PATCH", "/api/admin/settings", token,
		map[string]any{"ext.wordfilter.words": []string{"forbidden", "spam"}}, nil)
	if code != 200 {
		t.Fatalf("valid setting: %d %s", code, body)
	}
	code, body = in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "buy SPAM"}}, nil)
	if code != 400 || !strings.Contains(body, "'spam'") {
		t.Fatalf("record with a word added by the setting: %d %s", code, body)
	}

	// Burst of creates; kill -9 the extension in the middle.
	before := in.extension(token, "wordfilter")
	if before.Status.PID == 0 {
		t.Fatalf("no pid: %+v", before)
	}
	c := newRecordClient(in, token, 8)
	var (
		stop                  atomic.Bool
		created, refused, ko  atomic.Int64
		transport, unexpected atomic.Int64
		mu                    sync.Mutex
		firstUnexpected       string
		wg                    sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				title := fmt.Sprintf("note %d-%d", w, i)
				if i%2 == 1 {
					title += " forbidden"
				}
				code, body, err := c.send("POST", "/api/collections/notes/records",
					fmt.Sprintf(`{"data":{"title":%q}}`, title))
				switch {
				case err != nil:
					transport.Add(1)
				case code == 201:
					created.Add(1)
				case code == 400 && strings.Contains(string(body), "forbidden word"):
					refused.Add(1)
				case code == 503 && strings.Contains(string(body), "wordfilter"):
					ko.Add(1)
				default:
					unexpected.Add(1)
					mu.Lock()
					if firstUnexpected == "" {
						firstUnexpected = fmt.Sprintf("%d %s", code, body)
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(before.Status.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "extension restarted", func() error {
		st := in.extension(token, "wordfilter")
		if st.Status.State != "running" || st.Status.Restarts < 1 || st.Status.PID == before.Status.PID {
			return fmt.Errorf("status %+v", st.Status)
		}
		return nil
	})
	refusedAtRestart := refused.Load()
	waitFor(t, 10*time.Second, "hooks refusing again after the restart", func() error {
		if refused.Load() <= refusedAtRestart {
			return fmt.Errorf("no refusal since the restart")
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	t.Logf("burst: created %d, refused %d, 503 while down %d, transport errors %d",
		created.Load(), refused.Load(), ko.Load(), transport.Load())
	if transport.Load() > 0 || unexpected.Load() > 0 {
		t.Fatalf("api did not keep answering: %d transport errors, %d unexpected answers (first: %s)",
			transport.Load(), unexpected.Load(), firstUnexpected)
	}
	if created.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("burst created %d and refused %d", created.Load(), refused.Load())
	}
	for id, data := range c.allRecords(t, "notes") {
		if strings.Contains(string(data), "forbidden") {
			t.Fatalf("forbidden record %s stored: %s", id, data)
		}
	}
	if !strings.Contains(in.log.String(), "extension process exited; restarting") {
		t.Fatal("the crash was not logged")
	}

	// Disable and enable without a restart of the api.
	out, err = run(t, dir, env, "extensions", "disable", "wordfilter")
	if err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	code, body = in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "forbidden while disabled"}}, nil)
	if code != 201 {
		t.Fatalf("create with the extension disabled: %d %s", code, body)
	}
	if out, err = run(t, dir, env, "extensions", "enable", "wordfilter"); err != nil {
		t.Fatalf("enable: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "refusing after enable", func() error {
		code, body := in.do("POST", "/api/collections/notes/records", token,
			map[string]any{"data": map[string]any{"title": "forbidden again"}}, nil)
		if code != 400 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	stored := len(c.allRecords(t, "notes"))
	waitFor(t, 10*time.Second, "after-hooks saw every create", func() error {
		var seen struct {
			Seen int `json:"seen"`
		}
		if code, body := in.do("GET", "/api/ext/benchobserver/seen", token, nil, &seen); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		if seen.Seen != stored {
			return fmt.Errorf("observer saw %d creates, %d records stored", seen.Seen, stored)
		}
		return nil
	})
	// After-update hooks get the old and new data, after-delete the data
	// that was deleted.
	var rec struct {
		ID string `json:"id"`
	}
	if code, body := in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "before"}}, &rec); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := in.do("PATCH", "/api/collections/notes/records/"+rec.ID, token,
		map[string]any{"data": map[string]any{"title": "after"}}, nil); code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	if code, body := in.do("DELETE", "/api/collections/notes/records/"+rec.ID, token, nil, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "after-update and after-delete data", func() error {
		var seen struct {
			Update struct {
				ID      string         `json:"id"`
				Data    map[string]any `json:"data"`
				OldData map[string]any `json:"old_data"`
				OwnerID string         `json:"owner_id"`
			} `json:"update"`
			Delete struct {
				ID   string         `json:"id"`
				Data map[string]any `json:"data"`
			} `json:"delete"`
		}
		if code, body := in.do("GET", "/api/ext/benchobserver/seen", token, nil, &seen); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		u, d := seen.Update, seen.Delete
		if u.ID != rec.ID || u.Data["title"] != "after" || u.OldData["title"] != "before" || u.OwnerID == "" {
			return fmt.Errorf("after-update saw %+v", u)
		}
		if d.ID != rec.ID || d.Data["title"] != "after" {
			return fmt.Errorf("after-delete saw %+v", d)
		}
		return nil
	})
	if code, _ := in.do("GET", "/api/ext/benchobserver/seen", "", nil, nil); code != 401 {
		t.Fatalf("admin route without a token: %d", code)
	}
	if out, err = run(t, dir, env, "extensions", "uninstall", "benchobserver"); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if out, err = run(t, dir, env, "extensions", "uninstall", "wordfilter"); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	var page struct {
		Total int `json:"total"`
	}
	if code, body := in.do("GET", "/api/admin/extensions", token, nil, &page); code != 200 || page.Total != 0 {
		t.Fatalf("list after uninstall: %d %s", code, body)
	}
	if pids := processesMentioning(filepath.Join(dir, ".tinybase", "extensions")); len(pids) > 0 {
		t.Fatalf("extension processes left: %v", pids)
	}
	// What the admin did is in the activity log.
	var log struct {
		Items []struct {
			Subject string         `json:"subject"`
			ActorID *string        `json:"actor_id"`
			Data    map[string]any `json:"data"`
		} `json:"items"`
	}
	if code, body := in.do("GET", "/api/admin/activity?kind=extension.changed&subject=wordfilter&limit=100", token,
		nil, &log); code != 200 {
		t.Fatalf("activity: %d %s", code, body)
	}
	actions := map[string]bool{}
	for _, e := range log.Items {
		if e.ActorID == nil || *e.ActorID == "" {
			t.Errorf("extension change without its admin: %+v", e)
		}
		actions[fmt.Sprint(e.Data["action"])] = true
	}
	for _, want := range []string{"installed", "disabled", "enabled", "uninstalled"} {
		if !actions[want] {
			t.Errorf("activity has no %q entry for wordfilter; has %v", want, actions)
		}
	}

	// A value stored while it was uninstalled (keys are then free-form)
	// does not break a reinstall: the extension gets its default.
	code, body = in.do("PATCH", "/api/admin/settings", token,
		map[string]any{"ext.wordfilter.words": "free-form now"}, nil)
	if code != 200 {
		t.Fatalf("free-form setting of an uninstalled extension: %d %s", code, body)
	}
	if code, body := in.do("POST", "/api/admin/extensions", token, map[string]any{"path": src}, nil); code != 201 {
		t.Fatalf("reinstall: %d %s", code, body)
	}
	code, body = in.do("POST", "/api/collections/notes/records", token,
		map[string]any{"data": map[string]any{"title": "forbidden after reinstall"}}, nil)
	if code != 400 || !strings.Contains(body, "'forbidden'") {
		t.Fatalf("create after reinstall: %d %s", code, body)
	}
	if code, body := in.do("GET", "/api/ext/wordfilter/words", "", nil, nil); code != 200 ||
		body != `{"words":["forbidden"]}` {
		t.Fatalf("route after reinstall: %d %s", code, body)
	}
	code, body = in.do("POST", "/api/admin/extensions", token, map[string]any{"path": src}, nil)
	if code != 400 || !strings.Contains(body, "Extension 'wordfilter' is already installed; uninstall it first") {
		t.Fatalf("install twice: %d %s", code, body)
	}
	if code, body := in.do("DELETE", "/api/admin/extensions/wordfilter", token, nil, nil); code != 204 {
		t.Fatalf("uninstall: %d %s", code, body)
	}
	var set map[string]any
	if code, body := in.do("GET", "/api/admin/settings", token, nil, &set); code != 200 ||
		strings.Contains(body, "ext.wordfilter.words") {
		t.Fatalf("settings after uninstall: %d %s", code, body)
	}
}
