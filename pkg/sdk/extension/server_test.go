package extension

import (
	"context"
	"encoding/json"
	"errors"
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
