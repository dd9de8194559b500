package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tinybase/tinybase/internal/testenv"
	"github.com/tinybase/tinybase/pkg/api"
	"github.com/tinybase/tinybase/pkg/bus"
)

// collAPI is an api role started for the collection tests.
type collAPI struct {
	t    *testing.T
	env  *testenv.Env
	base string
}

func startCollAPI(t *testing.T, env *testenv.Env) *collAPI {
	t.Helper()
	ln := testenv.Listen(t)
	a := &collAPI{t: t, env: env, base: "http://" + ln.Addr().String()}
	env.Start("api", func(ctx context.Context) error {
		return api.Run(ctx, env.Config, api.Options{Logger: testenv.Logger(t, "api"), Listener: ln})
	})
	testenv.WaitFor(t, 20*time.Second, "api up", func() error {
		resp, err := http.Get(a.base + "/api/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return a
}

type reply struct {
	code int
	raw  string
	body map[string]any
}

// errorFields renders the "errors" of an error body as "field:code".
func (r reply) errorFields() []string {
	var out []string
	list, _ := r.body["errors"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["field"], m["code"]))
	}
	return out
}

func (a *collAPI) do(method, path, token string, body any) reply {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (a *collAPI) must(want int, method, path, token string, body any) reply {
	a.t.Helper()
	r := a.do(method, path, token, body)
	if r.code != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.code, want, r.raw)
	}
	return r
}

// token logs in and returns the access token.
func (a *collAPI) token(email, password string) string {
	a.t.Helper()
	r := a.must(200, "POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	return r.body["access_token"].(string)
}

// user creates a plain user (through the admin API) and logs it in.
func (a *collAPI) user(admin, email string) string {
	a.t.Helper()
	a.must(201, "POST", "/api/admin/users", admin, map[string]any{"email": email, "password": "password1"})
	return a.token(email, "password1")
}

func TestCollectionsAndRecordsHTTP(t *testing.T) {
	env := testenv.New(t)
	a := startCollAPI(t, env)
	admin := a.token("admin@example.com", "admin12345")
	ann := a.user(admin, "ann@example.com")
	bob := a.user(admin, "bob@example.com")

	// Collections: admin only for writes.
	schema := map[string]any{"fields": []any{
		map[string]any{"name": "title", "type": "string", "required": true},
		map[string]any{"name": "n", "type": "integer"},
		map[string]any{"name": "code", "unique": true},
		map[string]any{"name": "tags", "type": "list[string]"},
	}}
	newColl := map[string]any{"name": "notes", "label": "Notes", "schema": schema}
	a.must(401, "POST", "/api/collections", "", newColl)
	a.must(403, "POST", "/api/collections", ann, newColl)
	a.must(201, "POST", "/api/collections", admin, newColl)
	r := a.must(400, "POST", "/api/collections", admin, map[string]any{"name": "bad", "label": "B",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "r", "type": "reference", "collection": "nope"}}}})
	if !strings.HasPrefix(r.body["detail"].(string), "Invalid schema: r: ") {
		t.Fatalf("missing reference target: %s", r.raw)
	}
	a.must(200, "PATCH", "/api/collections/notes", admin, map[string]any{"label": "My notes"})
	a.must(403, "PATCH", "/api/collections/notes", ann, map[string]any{"label": "x"})
	a.must(404, "PATCH", "/api/collections/nope", admin, map[string]any{"label": "x"})

	// Records.
	r = a.must(201, "POST", "/api/collections/notes/records", ann,
		`{"data": {"title": "big", "n": 9007199254740993, "code": "A", "tags": ["x", "y"]}}`)
	if !strings.Contains(r.raw, `"n":9007199254740993`) {
		t.Fatalf("integer not kept digit for digit: %s", r.raw)
	}
	annRec := r.body["id"].(string)
	r = a.must(200, "GET", "/api/collections/notes/records/"+annRec, "", nil)
	if !strings.Contains(r.raw, `"n":9007199254740993`) {
		t.Fatalf("integer read back as %s", r.raw)
	}
	a.must(200, "GET", "/api/collections/notes/records/"+strings.ToUpper(annRec), "", nil)
	a.must(422, "GET", "/api/collections/notes/records/not-a-uuid", "", nil)
	a.must(404, "GET", "/api/collections/notes/records/00000000-0000-0000-0000-000000000000", "", nil)
	r = a.must(409, "POST", "/api/collections/notes/records", bob, `{"data": {"title": "dup", "code": "A"}}`)
	if f := r.errorFields(); len(f) != 1 || f[0] != "code:unique" || r.body["code"] != "conflict" {
		t.Fatalf("conflict body: %s", r.raw)
	}
	r = a.must(400, "POST", "/api/collections/notes/records", bob, `{"data": {"n": "x"}}`)
	if !strings.HasPrefix(r.body["detail"].(string), "Validation error: ") ||
		strings.Join(r.errorFields(), ",") != "title:required,n:type" {
		t.Fatalf("validation body: %s", r.raw)
	}
	bobRec := a.must(201, "POST", "/api/collections/notes/records", bob, `{"data": {"title": "bob's", "n": 2}}`).
		body["id"].(string)

	// PATCH and DELETE: owner rule by default; 404 before 403.
	r = a.must(403, "PATCH", "/api/collections/notes/records/"+annRec, bob, `{"data": {"title": "mine"}}`)
	if r.body["detail"] != "You don't have permission to update this record" {
		t.Fatalf("update denied body: %s", r.raw)
	}
	a.must(401, "PATCH", "/api/collections/notes/records/"+annRec, "", `{"data": {}}`)
	a.must(422, "PATCH", "/api/collections/notes/records/"+annRec, ann, `{"data": 5}`)
	a.must(404, "PATCH", "/api/collections/notes/records/00000000-0000-0000-0000-000000000000", bob, `{"data": {}}`)
	r = a.must(200, "PATCH", "/api/collections/notes/records/"+annRec, ann, `{"data": {"title": "edited"}}`)
	if !strings.Contains(r.raw, `"title":"edited"`) || !strings.Contains(r.raw, `"n":9007199254740993`) {
		t.Fatalf("patched: %s", r.raw)
	}
	a.must(400, "PATCH", "/api/collections/notes/records/"+annRec, ann, `{"data": {"title": null}}`)
	r = a.must(403, "DELETE", "/api/collections/notes/records/"+annRec, bob, nil)
	if r.body["detail"] != "You don't have permission to delete this record" {
		t.Fatalf("delete denied body: %s", r.raw)
	}
	a.must(200, "PATCH", "/api/collections/notes/records/"+bobRec, admin, `{"data": {"n": 3}}`)

	// Listing: parameters, filters, cursors.
	for i := range 5 {
		a.must(201, "POST", "/api/collections/notes/records", ann,
			fmt.Sprintf(`{"data": {"title": "t%d", "n": %d, "tags": ["even%v"]}}`, i, 10+i, i%2 == 0))
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=abc", "offset=-1", "offset=x", "sort_order=up",
		"skip_total=maybe", "filter=" + url.QueryEscape("n = 'x'"), "filter=" + url.QueryEscape("nope = 1"),
		"filter=" + url.QueryEscape("n >"), "after=garbage", "sort_by=tags"} {
		r := a.do("GET", "/api/collections/notes/records?"+q, "", nil)
		if r.code != 422 || len(r.errorFields()) != 1 {
			t.Errorf("GET ?%s: %d %s, want 422 with the parameter named", q, r.code, r.raw)
		}
	}
	var page struct {
		Records []struct {
			ID   string         `json:"id"`
			Data map[string]any `json:"data"`
		} `json:"records"`
		Total      *int    `json:"total"`
		Limit      int     `json:"limit"`
		Offset     int     `json:"offset"`
		NextCursor *string `json:"next_cursor"`
	}
	list := func(q string) {
		t.Helper()
		page.Records, page.Total, page.NextCursor = nil, nil, nil
		r := a.must(200, "GET", "/api/collections/notes/records?"+q, "", nil)
		if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
			t.Fatal(err)
		}
	}
	list("offset=100")
	if len(page.Records) != 0 || page.Total == nil || *page.Total != 7 || page.Offset != 100 {
		t.Fatalf("offset past the end: %+v", page)
	}
	list("filter=" + url.QueryEscape("n >= 11 and tags contains 'eventrue'") + "&sort_by=n&sort_order=asc")
	if len(page.Records) != 2 || page.Records[0].Data["title"] != "t2" || *page.Total != 2 {
		t.Fatalf("filtered: %+v", page)
	}
	var walked []string
	q := "limit=3&sort_by=n&sort_order=desc&skip_total=true"
	for range 10 {
		list(q)
		if page.Total != nil {
			t.Fatalf("total not skipped: %d", *page.Total)
		}
		for _, rec := range page.Records {
			walked = append(walked, fmt.Sprint(rec.Data["title"]))
		}
		if page.NextCursor == nil {
			break
		}
		q = "limit=3&sort_by=n&sort_order=desc&skip_total=1&after=" + url.QueryEscape(*page.NextCursor)
	}
	if got := strings.Join(walked, ","); got != "edited,t4,t3,t2,t1,t0,bob's" {
		t.Fatalf("cursor walk = %s", got)
	}

	// Owner-only listing shows each user their own records.
	a.must(200, "PATCH", "/api/collections/notes", admin,
		map[string]any{"options": map[string]any{"access": map[string]any{"list": "owner"}}})
	a.must(401, "GET", "/api/collections/notes/records", "", nil)
	r = a.must(200, "GET", "/api/collections/notes/records", bob, nil)
	if int(r.body["total"].(float64)) != 1 {
		t.Fatalf("bob sees %v records", r.body["total"])
	}

	// Health endpoints.
	a.must(403, "GET", "/api/admin/collections/status", ann, nil)
	r = a.must(200, "GET", "/api/admin/collections/status", admin, nil)
	if r.body["healthy"] != true {
		t.Fatalf("health: %s", r.raw)
	}
	// A schema change that six of the seven records do not satisfy.
	a.must(200, "PATCH", "/api/collections/notes", admin, map[string]any{"schema": map[string]any{
		"fields": []any{map[string]any{"name": "title", "required": true}, map[string]any{"name": "code", "required": true}}}})
	r = a.must(200, "GET", "/api/admin/collections/notes/status", admin, nil)
	if r.body["healthy"] != false || r.body["invalid_records"].(float64) != 6 || r.body["records"].(float64) != 7 {
		t.Fatalf("status after schema change: %s", r.raw)
	}
	a.must(404, "GET", "/api/admin/collections/nope/status", admin, nil)

	// Unique over duplicates is refused with the values; nothing changes.
	for range 2 {
		a.must(201, "POST", "/api/collections/notes/records", ann, `{"data": {"title": "dup", "code": "c"}}`)
	}
	before := a.must(200, "GET", "/api/collections/notes", "", nil).raw
	r = a.must(409, "PATCH", "/api/collections/notes", admin, map[string]any{"schema": map[string]any{
		"fields": []any{map[string]any{"name": "title", "unique": true}}}})
	if r.body["code"] != "duplicate_values" || strings.Join(r.errorFields(), ",") != "title:duplicate" ||
		!strings.Contains(r.raw, `value \"dup\" is held by 2 records`) {
		t.Fatalf("unique over duplicates: %s", r.raw)
	}
	if after := a.must(200, "GET", "/api/collections/notes", "", nil).raw; after != before {
		t.Fatalf("collection changed by a refused update:\n%s\n%s", before, after)
	}

	// Deletes.
	a.must(204, "DELETE", "/api/collections/notes/records/"+annRec, ann, nil)
	a.must(404, "GET", "/api/collections/notes/records/"+annRec, "", nil)
	a.must(403, "DELETE", "/api/collections/notes", ann, nil)
	a.must(204, "DELETE", "/api/collections/notes", admin, nil)
	a.must(404, "GET", "/api/collections/notes", "", nil)
}

func TestReferencesHTTP(t *testing.T) {
	env := testenv.New(t)
	a := startCollAPI(t, env)
	admin := a.token("admin@example.com", "admin12345")
	a.must(201, "POST", "/api/collections", admin, map[string]any{"name": "authors", "label": "A", "schema": map[string]any{}})
	a.must(201, "POST", "/api/collections", admin, map[string]any{"name": "books", "label": "B", "schema": map[string]any{
		"fields": []any{map[string]any{"name": "author", "type": "reference", "collection": "authors"}}}})
	au := a.must(201, "POST", "/api/collections/authors/records", admin, `{"data": {}}`).body["id"].(string)
	a.must(201, "POST", "/api/collections/books/records", admin, fmt.Sprintf(`{"data": {"author": %q}}`, au))
	r := a.must(400, "POST", "/api/collections/books/records", admin,
		`{"data": {"author": "00000000-0000-0000-0000-000000000000"}}`)
	if f := r.errorFields(); len(f) != 1 || f[0] != "author:reference" {
		t.Fatalf("dangling reference: %s", r.raw)
	}
	r = a.must(409, "DELETE", "/api/collections/authors/records/"+au, admin, nil)
	if r.body["code"] != "referenced" || strings.Join(r.errorFields(), ",") != "books.author:restrict" {
		t.Fatalf("restricted delete: %s", r.raw)
	}
	r = a.must(409, "DELETE", "/api/collections/authors", admin, nil)
	if strings.Join(r.errorFields(), ",") != "books.author:restrict" {
		t.Fatalf("referenced collection delete: %s", r.raw)
	}
}

func TestConcurrentUniqueCreatesHTTP(t *testing.T) {
	env := testenv.New(t)
	a := startCollAPI(t, env)
	admin := a.token("admin@example.com", "admin12345")
	a.must(201, "POST", "/api/collections", admin, map[string]any{"name": "handles", "label": "H", "schema": map[string]any{
		"fields": []any{map[string]any{"name": "handle", "unique": true}}}})
	const n = 20
	codes := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i] = a.do("POST", "/api/collections/handles/records", admin, `{"data": {"handle": "ada"}}`)
		}()
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, r := range codes {
		switch {
		case r.code == 201:
			created++
		case r.code == 409 && strings.Join(r.errorFields(), ",") == "handle:unique":
			conflicts++
		default:
			t.Errorf("answer %d %s", r.code, r.raw)
		}
	}
	r := a.must(200, "GET", "/api/collections/handles/records", "", nil)
	if created != 1 || conflicts != n-1 || r.body["total"].(float64) != 1 {
		t.Fatalf("%d created, %d conflicts, %v rows", created, conflicts, r.body["total"])
	}
}

func TestRecordBodyLimit(t *testing.T) {
	env := testenv.New(t)
	env.Config.Server.BodyLimitBytes = 4096
	a := startCollAPI(t, env)
	admin := a.token("admin@example.com", "admin12345")
	a.must(201, "POST", "/api/collections", admin, map[string]any{"name": "blobs", "label": "B", "schema": map[string]any{
		"fields": []any{map[string]any{"name": "s"}}}})
	big := fmt.Sprintf(`{"data": {"s": %q}}`, strings.Repeat("x", 5000))
	r := a.must(413, "POST", "/api/collections/blobs/records", admin, big)
	if !strings.Contains(r.raw, "too large") {
		t.Fatalf("413 body: %s", r.raw)
	}
	a.must(201, "POST", "/api/collections/blobs/records", admin, `{"data": {"s": "small"}}`)
	r = a.must(200, "GET", "/api/collections/blobs/records", "", nil)
	if r.body["total"].(float64) != 1 {
		t.Fatalf("records after a refused body: %s", r.raw)
	}
}

func TestRecordEventsOnBus(t *testing.T) {
	env := testenv.New(t)
	a := startCollAPI(t, env)
	user, pass := env.Config.BusCredentials()
	nc, err := nats.Connect(env.Bus.ClientURL(), nats.UserInfo(user, pass))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe(bus.RecordEventsPrefix+">", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	admin := a.token("admin@example.com", "admin12345")
	a.must(201, "POST", "/api/collections", admin, map[string]any{"name": "notes", "label": "N", "schema": map[string]any{
		"fields": []any{map[string]any{"name": "t"}}}})
	id := a.must(201, "POST", "/api/collections/notes/records", admin, `{"data": {"t": "a"}}`).body["id"].(string)
	a.must(400, "POST", "/api/collections/notes/records", admin, `{"data": {"t": 1}}`)
	a.must(200, "PATCH", "/api/collections/notes/records/"+id, admin, `{"data": {"t": "b"}}`)
	a.must(204, "DELETE", "/api/collections/notes/records/"+id, admin, nil)
	want := []string{"create:a", "update:b", "delete:b"}
	for i, w := range want {
		select {
		case m := <-msgs:
			var e struct {
				Op     string `json:"op"`
				Record struct {
					ID   string            `json:"id"`
					Data map[string]string `json:"data"`
				} `json:"record"`
			}
			if err := json.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			op, _, _ := strings.Cut(w, ":")
			if m.Subject != bus.RecordEventsPrefix+"notes."+op || e.Op+":"+e.Record.Data["t"] != w || e.Record.ID != id {
				t.Fatalf("event %d: %s %s, want %s", i, m.Subject, m.Data, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) not published", i, w)
		}
	}
	select {
	case m := <-msgs:
		t.Fatalf("unexpected event %s %s", m.Subject, m.Data)
	case <-time.After(200 * time.Millisecond):
	}
}
