package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"
)

// recordClient talks to the records API with a connection pool sized for
// many concurrent writers.
type recordClient struct {
	in    *instance
	token string
	http  *http.Client
}

func newRecordClient(in *instance, token string, conns int) *recordClient {
	return &recordClient{in: in, token: token, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}}
}

// send returns the status and body, or an error for transport failures
// (the api being down or killed mid-request).
func (c *recordClient) send(method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.in.url(path), rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// allRecords walks a collection with cursors and returns data by id.
func (c *recordClient) allRecords(t *testing.T, coll string) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	q := "limit=1000&skip_total=true&sort_by=created_at&sort_order=asc"
	for {
		code, body, err := c.send("GET", "/api/collections/"+coll+"/records?"+q, "")
		if err != nil || code != 200 {
			t.Fatalf("list %s: %d %s %v", coll, code, body, err)
		}
		var page struct {
			Records []struct {
				ID   string          `json:"id"`
				Data json.RawMessage `json:"data"`
			} `json:"records"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			out[r.ID] = r.Data
		}
		if page.NextCursor == nil {
			return out
		}
		q = "limit=1000&skip_total=true&sort_by=created_at&sort_order=asc&after=" + url.QueryEscape(*page.NextCursor)
	}
}

func apiPID(t *testing.T, in *instance) int {
	t.Helper()
	roles, err := in.status()
	if err != nil {
		return 0
	}
	for _, r := range roles {
		if r.Role == "api" {
			return r.PID
		}
	}
	return 0
}

// stopServe stops the supervisor with SIGTERM and waits for it.
func stopServe(t *testing.T, in *instance) {
	t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s of SIGTERM")
	}
}

// integrityCheck opens the database file read-only, after every TinyBase
// process has exited, and runs SQLite's own checks on it.
func integrityCheck(t *testing.T, dir string) int {
	t.Helper()
	path := filepath.Join(dir, "tinybase.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations")
	}
	rows.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM records`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordsSurviveAPIKill kills the api with SIGKILL in the middle of a
// burst of creates. After the supervisor has restarted it, every record
// that was acknowledged with 201 must be there with its data, and the
// database file must pass PRAGMA integrity_check.
func TestRecordsSurviveAPIKill(t *testing.T) {
	dir := initProject(t)
	in := serve(t, dir, 1)
	token := in.login("admin@example.com", "admin12345")
	if code, body := in.do("POST", "/api/collections", token, map[string]any{"name": "burst", "label": "Burst",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "i", "type": "integer", "unique": true},
			map[string]any{"name": "pad"}}}}, nil); code != 201 {
		t.Fatalf("create collection: %d %s", code, body)
	}
	c := newRecordClient(in, token, 32)

	var (
		mu       sync.Mutex
		acked    = map[string]int64{} // record id -> i
		next     atomic.Int64
		failures atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	pad := strings.Repeat("p", 200)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := next.Add(1)
				code, body, err := c.send("POST", "/api/collections/burst/records",
					fmt.Sprintf(`{"data": {"i": %d, "pad": %q}}`, i, pad))
				switch {
				case err != nil:
					failures.Add(1)
					time.Sleep(20 * time.Millisecond)
				case code == 201:
					var r struct{ ID string }
					if json.Unmarshal(body, &r) != nil || r.ID == "" {
						t.Errorf("201 without id: %s", body)
						continue
					}
					mu.Lock()
					acked[r.ID] = i
					mu.Unlock()
				case code >= 500:
					t.Errorf("create answered %d: %s", code, body)
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor(t, 30*time.Second, "a burst under way", func() error {
		if n := count(); n < 300 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	old := apiPID(t, in)
	if old == 0 {
		t.Fatal("api pid not found")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := count()
	waitFor(t, 60*time.Second, "api restarted and acknowledging again", func() error {
		if pid := apiPID(t, in); pid == 0 || pid == old {
			return fmt.Errorf("api pid %d", pid)
		}
		if n := count(); n < killedAt+200 {
			return fmt.Errorf("%d acknowledged since the kill", n-killedAt)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if failures.Load() == 0 {
		t.Error("no request failed: the kill did not hit the burst")
	}
	t.Logf("acknowledged %d creates (%d before the kill), %d requests failed in transport",
		len(acked), killedAt, failures.Load())

	stored := c.allRecords(t, "burst")
	for id, i := range acked {
		data, ok := stored[id]
		if !ok {
			t.Errorf("acknowledged record %s (i=%d) is missing", id, i)
			continue
		}
		var d struct{ I int64 }
		if err := json.Unmarshal(data, &d); err != nil || d.I != i {
			t.Errorf("record %s holds %s, want i=%d", id, data, i)
		}
	}
	stopServe(t, in)
	if n := integrityCheck(t, dir); n != len(stored) {
		t.Errorf("database holds %d records, the API listed %d", n, len(stored))
	}
}

// TestRecordWritersSustained runs fifty concurrent writers (creates,
// updates, deletes and filtered lists) against one collection. None may
// get a 5xx or a transport error, and the log must not mention a locked
// database. It runs TINYBASE_SOAK_SECONDS seconds (default 5; the full
// check is 60).
func TestRecordWritersSustained(t *testing.T) {
	seconds := 5
	if s := os.Getenv("TINYBASE_SOAK_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TINYBASE_SOAK_SECONDS=%q", s)
		}
		seconds = n
	}
	dir := initProject(t)
	in := serve(t, dir, 1)
	token := in.login("admin@example.com", "admin12345")
	if code, body := in.do("POST", "/api/collections", token, map[string]any{"name": "soak", "label": "Soak",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "w", "type": "integer", "index": true},
			map[string]any{"name": "n", "type": "integer"}, map[string]any{"name": "key", "unique": true}}}},
		nil); code != 201 {
		t.Fatalf("create collection: %d %s", code, body)
	}
	c := newRecordClient(in, token, 64)
	const writers = 50
	var (
		ops      [5]atomic.Int64 // create, update, delete, list, conflict
		bad      atomic.Int64
		deadline = time.Now().Add(time.Duration(seconds) * time.Second)
		wg       sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for i := 0; time.Now().Before(deadline); i++ {
				var (
					code int
					body []byte
					err  error
					op   int
				)
				switch p := rng.IntN(100); {
				case p < 10 && len(mine) > 0:
					op = 1
					id := mine[rng.IntN(len(mine))]
					code, body, err = c.send("PATCH", "/api/collections/soak/records/"+id, fmt.Sprintf(`{"data": {"n": %d}}`, i))
				case p < 15 && len(mine) > 0:
					op = 2
					id := mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					code, body, err = c.send("DELETE", "/api/collections/soak/records/"+id, "")
				case p < 25:
					op = 3
					code, body, err = c.send("GET", "/api/collections/soak/records?limit=20&filter="+
						url.QueryEscape(fmt.Sprintf("w = %d and n >= 0", w)), "")
				case p < 28:
					// A deliberate duplicate: must be a 409, never a 5xx.
					op = 4
					code, body, err = c.send("POST", "/api/collections/soak/records", `{"data": {"w": 0, "n": 0, "key": "same"}}`)
					if code == 201 {
						code = 409
					}
				default:
					code, body, err = c.send("POST", "/api/collections/soak/records",
						fmt.Sprintf(`{"data": {"w": %d, "n": %d, "key": "%d-%d"}}`, w, i, w, i))
					if code == 201 {
						var r struct{ ID string }
						_ = json.Unmarshal(body, &r)
						mine = append(mine, r.ID)
					}
				}
				ops[op].Add(1)
				ok := code >= 200 && code < 300 || op == 4 && code == 409
				if err != nil || !ok {
					if bad.Add(1) <= 10 {
						t.Errorf("op %d: %d %s %v", op, code, bytes.TrimSpace(body), err)
					}
				}
			}
		}()
	}
	wg.Wait()
	total := int64(0)
	for i := range ops {
		total += ops[i].Load()
	}
	t.Logf("%d writers, %ds: %d requests (%.0f/s): %d creates, %d updates, %d deletes, %d lists, %d duplicates; %d bad",
		writers, seconds, total, float64(total)/float64(seconds), ops[0].Load(), ops[1].Load(), ops[2].Load(),
		ops[3].Load(), ops[4].Load(), bad.Load())
	for _, s := range []string{"database is locked", "SQLITE_BUSY", "request failed"} {
		if strings.Contains(in.log.String(), s) {
			t.Errorf("the log mentions %q", s)
		}
	}
	stopServe(t, in)
	integrityCheck(t, dir)
}
