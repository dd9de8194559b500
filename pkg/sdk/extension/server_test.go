package extension

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

func TestHookDispatch(t *testing.T) {
	e := New("demo", "1.0.0")
	var calls []string
	e.BeforeCreate(func(_ context.Context, ev *RecordEvent) error {
		calls = append(calls, "first:"+ev.Collection)
		ev.Set("n", 2)
		return nil
	}, "notes")
	e.BeforeCreate(func(_ context.Context, ev *RecordEvent) error {
		calls = append(calls, "second")
		if ev.Data["bad"] == true {
			return Refuse(0, "no bad records")
		}
		if ev.Data["broken"] == true {
			return errors.New("broken")
		}
		return nil
	})
	e.On(HookUserLogin, func(_ context.Context, ev *Event) error {
		calls = append(calls, "login:"+ev.Data["email"].(string))
		return nil
	})
	s := &server{ext: e}
	ctx := context.Background()

	resp, err := s.Hook(ctx, &extv1.HookRequest{Hook: HookBeforeCreate, Collection: "notes",
		DataJson: []byte(`{"title":"x"}`)})
	if err != nil || resp.Refuse || string(resp.DataJson) != `{"n":2,"title":"x"}` {
		t.Fatalf("modify: %v %v", resp, err)
	}
	resp, err = s.Hook(ctx, &extv1.HookRequest{Hook: HookBeforeCreate, Collection: "other",
		DataJson: []byte(`{"bad":true}`)})
	if err != nil || !resp.Refuse || resp.Status != 400 || resp.Message != "no bad records" || resp.DataJson != nil {
		t.Fatalf("refuse: %v %v", resp, err)
	}
	if _, err := s.Hook(ctx, &extv1.HookRequest{Hook: HookBeforeCreate, DataJson: []byte(`{"broken":true}`)}); err == nil {
		t.Fatal("a plain error was not reported as a failure")
	}
	if _, err := s.Hook(ctx, &extv1.HookRequest{Hook: HookUserLogin, EventJson: []byte(`{"email":"a@b.c"}`)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"first:notes", "second", "second", "second", "login:a@b.c"}
	if got, _ := json.Marshal(calls); string(got) != mustJSON(want) {
		t.Fatalf("calls %s, want %s", got, mustJSON(want))
	}

	d, err := s.Describe(ctx, &extv1.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Hooks) != 2 || d.Hooks[0].Hook != HookBeforeCreate || d.Hooks[0].Collections != nil ||
		d.Hooks[1].Hook != HookUserLogin {
		t.Fatalf("describe hooks: %v", d.Hooks)
	}
}

func TestRouteMatching(t *testing.T) {
	e := New("demo", "1.0.0")
	e.Route("GET", "/items/*", "public", func(_ context.Context, r *Request) (*Response, error) {
		return JSON(200, map[string]string{"path": r.Path}), nil
	})
	e.Route("POST", "/fail", "admin", func(context.Context, *Request) (*Response, error) {
		return nil, Refuse(409, "conflict")
	})
	s := &server{ext: e}
	ctx := context.Background()
	for _, c := range []struct {
		method, path string
		status       int32
		body         string
	}{
		{"GET", "/items", 200, `{"path":"/items"}`},
		{"GET", "/items/a/b", 200, `{"path":"/items/a/b"}`},
		{"GET", "/itemsx", 404, `{"detail":"Not Found"}`},
		{"POST", "/items", 404, `{"detail":"Not Found"}`},
		{"POST", "/fail", 409, `{"detail":"conflict"}`},
	} {
		resp, err := s.Route(ctx, &extv1.RouteRequest{Method: c.method, Path: c.path})
		if err != nil || resp.Status != c.status || string(resp.Body) != c.body {
			t.Errorf("%s %s: %v %v", c.method, c.path, resp, err)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandlersThatFailOrPanic(t *testing.T) {
	var log strings.Builder
	logOut = &log
	t.Cleanup(func() { logOut = nil })
	e := New("demo", "1.0.0")
	e.Route("GET", "/panic", "public", func(context.Context, *Request) (*Response, error) {
		panic("route boom")
	})
	e.Route("GET", "/fail", "public", func(context.Context, *Request) (*Response, error) {
		return nil, errors.New("secret detail")
	})
	e.BeforeCreate(func(context.Context, *RecordEvent) error { panic("hook boom") })
	e.On(HookUserLogin, func(context.Context, *Event) error { panic("event boom") })
	s := &server{ext: e}
	ctx := context.Background()
	generic := `{"detail":"Extension 'demo' failed to handle the request"}`
	for _, path := range []string{"/panic", "/fail"} {
		resp, err := s.Route(ctx, &extv1.RouteRequest{Method: "GET", Path: path})
		if err != nil || resp.Status != 500 || string(resp.Body) != generic {
			t.Errorf("%s: %v %v", path, resp, err)
		}
	}
	if _, err := s.Hook(ctx, &extv1.HookRequest{Hook: HookBeforeCreate, DataJson: []byte(`{}`)}); err == nil {
		t.Error("a panicking record hook did not fail")
	}
	if _, err := s.Hook(ctx, &extv1.HookRequest{Hook: HookUserLogin}); err == nil {
		t.Error("a panicking event hook did not fail")
	}
	for _, want := range []string{"route boom", "secret detail", "hook boom", "event boom", "goroutine"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("%q not on stderr:\n%s", want, log.String())
		}
	}
}

func TestHeadServedByGet(t *testing.T) {
	e := New("demo", "1.0.0")
	e.Route("GET", "/items/*", "public", func(_ context.Context, r *Request) (*Response, error) {
		resp := JSON(200, map[string]string{"method": r.Method})
		resp.Headers["x-demo"] = "1"
		return resp, nil
	})
	e.Route("HEAD", "/own", "public", func(context.Context, *Request) (*Response, error) {
		return &Response{Status: 299}, nil
	})
	e.Route("GET", "/own", "public", func(context.Context, *Request) (*Response, error) {
		return &Response{Status: 200}, nil
	})
	s := &server{ext: e}
	ctx := context.Background()
	resp, err := s.Route(ctx, &extv1.RouteRequest{Method: "HEAD", Path: "/items/a"})
	if err != nil || resp.Status != 200 || len(resp.Body) != 0 || resp.Headers["x-demo"] != "1" {
		t.Fatalf("HEAD on a GET route: %v %v", resp, err)
	}
	if resp, err := s.Route(ctx, &extv1.RouteRequest{Method: "HEAD", Path: "/own"}); err != nil || resp.Status != 299 {
		t.Fatalf("HEAD route of its own: %v %v", resp, err)
	}
	if resp, err := s.Route(ctx, &extv1.RouteRequest{Method: "HEAD", Path: "/none"}); err != nil || resp.Status != 404 {
		t.Fatalf("HEAD without a route: %v %v", resp, err)
	}
}
