package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tinybase/tinybase/pkg/extension/wire"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// server answers TinyBase's calls by running the registered handlers.
type server struct {
	extv1.UnimplementedExtensionServer
	ext    *Extension
	broker *plugin.GRPCBroker
}

// Describe tells TinyBase what the extension wants and dials the host
// service on the broker id it was given.
func (s *server) Describe(_ context.Context, req *extv1.DescribeRequest) (*extv1.DescribeResponse, error) {
	e := s.ext
	if req.HostBrokerId != 0 && e.host.get() == nil {
		conn, err := s.broker.DialWithOptions(req.HostBrokerId, grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessage), grpc.MaxCallSendMsgSize(wire.MaxMessage)))
		if err != nil {
			return nil, fmt.Errorf("dial host service: %w", err)
		}
		e.host.set(&HostClient{c: extv1.NewHostClient(conn)})
	}
	out := &extv1.DescribeResponse{Name: e.Name, Version: e.Version, Description: e.Description,
		Author: e.Author, Settings: e.settings}
	for h, subs := range e.records {
		var colls []string
		all := false
		for _, sub := range subs {
			if len(sub.collections) == 0 {
				all = true
			}
			colls = append(colls, sub.collections...)
		}
		if all {
			colls = nil
		}
		out.Hooks = append(out.Hooks, &extv1.HookSubscription{Hook: h, Collections: colls})
	}
	for h := range e.events {
		out.Hooks = append(out.Hooks, &extv1.HookSubscription{Hook: h})
	}
	slices.SortFunc(out.Hooks, func(a, b *extv1.HookSubscription) int { return int(a.Hook) - int(b.Hook) })
	for _, r := range e.routes {
		out.Routes = append(out.Routes, r.spec)
	}
	return out, nil
}

// Hook runs the handlers registered for one event, in registration order.
// The first refusal or error ends the call. A handler that panics fails
// the call (TinyBase applies the extension's failure policy) and the
// extension keeps running; the stack goes to stderr.
func (s *server) Hook(ctx context.Context, req *extv1.HookRequest) (resp *extv1.HookResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			logPanic(fmt.Sprintf("hook %s", req.Hook), v)
			resp, err = nil, status.Errorf(codes.Internal, "hook %s handler panicked", req.Hook)
		}
	}()
	if h := s.ext.host.get(); h != nil {
		h.seen(req.SettingsVersion)
	}
	caller := Caller{}
	if req.Caller != nil {
		caller = Caller{UserID: req.Caller.UserId, IsAdmin: req.Caller.IsAdmin}
	}
	at := time.UnixMilli(req.AtUnixMs).UTC()
	if subs, ok := s.ext.records[req.Hook]; ok {
		ev := &RecordEvent{Hook: req.Hook, At: at, Caller: caller, Collection: req.Collection,
			RecordID: req.RecordId, OwnerID: req.OwnerId}
		if err := decodeObject(req.DataJson, &ev.Data); err != nil {
			return nil, fmt.Errorf("record data: %w", err)
		}
		if err := decodeObject(req.OldDataJson, &ev.OldData); err != nil {
			return nil, fmt.Errorf("old record data: %w", err)
		}
		for _, sub := range subs {
			if len(sub.collections) > 0 && !slices.Contains(sub.collections, req.Collection) {
				continue
			}
			if err := sub.fn(ctx, ev); err != nil {
				return refusal(err)
			}
		}
		out := &extv1.HookResponse{}
		if ev.changed {
			data, err := json.Marshal(ev.Data)
			if err != nil {
				return nil, fmt.Errorf("encode modified data: %w", err)
			}
			out.DataJson = data
		}
		return out, nil
	}
	ev := &Event{Hook: req.Hook, At: at, Caller: caller, Subject: req.Subject}
	if err := decodeObject(req.EventJson, &ev.Data); err != nil {
		return nil, fmt.Errorf("event data: %w", err)
	}
	for _, fn := range s.ext.events[req.Hook] {
		if err := fn(ctx, ev); err != nil {
			return refusal(err)
		}
	}
	return &extv1.HookResponse{}, nil
}

// refusal turns a handler error into a refusal, or into a gRPC error
// (a failure of the extension) when it is not one.
func refusal(err error) (*extv1.HookResponse, error) {
	var r *RefusalError
	if errors.As(err, &r) {
		return &extv1.HookResponse{Refuse: true, Status: int32(r.Status), Message: r.Message}, nil
	}
	return nil, err
}

func decodeObject(raw []byte, into *map[string]any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, into)
}

type route struct {
	spec *extv1.RouteSpec
	fn   RouteHandler
}

// find returns the route serving method and path (see wire.FindRoute).
func (s *server) find(method, path string) (route, bool) {
	routes := s.ext.routes
	i := wire.FindRoute(len(routes), func(i int) (string, string) { return routes[i].spec.Method, routes[i].spec.Path },
		method, path)
	if i < 0 {
		return route{}, false
	}
	return routes[i], true
}

// Route serves one HTTP request with the first matching route. A HEAD
// request runs the GET route (Request.Method stays "HEAD") and answers
// its status and headers without the body. A handler's error other than
// a refusal answers 500 with a generic message, and so does a panic; the
// error or the stack goes to stderr, which TinyBase logs, never to the
// client.
func (s *server) Route(ctx context.Context, req *extv1.RouteRequest) (out *extv1.RouteResponse, err error) {
	if h := s.ext.host.get(); h != nil {
		h.seen(req.SettingsVersion)
	}
	r, ok := s.find(req.Method, req.Path)
	if !ok {
		return &extv1.RouteResponse{Status: 404, Headers: map[string]string{"content-type": "application/json"},
			Body: []byte(`{"detail":"Not Found"}`)}, nil
	}
	head := strings.EqualFold(req.Method, "HEAD")
	defer func() {
		if v := recover(); v != nil {
			logPanic(fmt.Sprintf("route %s %s", req.Method, req.Path), v)
			out, err = s.routeFailed(head), nil
		}
	}()
	in := &Request{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: req.Body}
	if req.Caller != nil {
		in.Caller = Caller{UserID: req.Caller.UserId, IsAdmin: req.Caller.IsAdmin}
	}
	resp, err := r.fn(ctx, in)
	if err != nil {
		var ref *RefusalError
		if !errors.As(err, &ref) {
			fmt.Fprintf(stderr(), "route %s %s failed: %v\n", req.Method, req.Path, err)
			return s.routeFailed(head), nil
		}
		resp = JSON(ref.Status, map[string]string{"detail": ref.Message})
	}
	if resp == nil {
		resp = &Response{Status: 204}
	}
	out = &extv1.RouteResponse{Status: int32(resp.Status), Headers: resp.Headers, Body: resp.Body}
	if head {
		out.Body = nil
	}
	return out, nil
}

// routeFailed is the answer to a route whose handler failed.
func (s *server) routeFailed(head bool) *extv1.RouteResponse {
	resp := JSON(500, map[string]string{"detail": fmt.Sprintf("Extension '%s' failed to handle the request",
		s.ext.Name)})
	out := &extv1.RouteResponse{Status: int32(resp.Status), Headers: resp.Headers, Body: resp.Body}
	if head {
		out.Body = nil
	}
	return out
}

// logOut, when set (tests), receives handler failures and panic stacks
// instead of os.Stderr, read at each write because go-plugin replaces it
// while serving. TinyBase turns the plugin's stderr into log lines.
var logOut io.Writer

func stderr() io.Writer {
	if logOut != nil {
		return logOut
	}
	return os.Stderr
}

func logPanic(where string, v any) {
	fmt.Fprintf(stderr(), "panic in %s: %v\n%s", where, v, debug.Stack())
}

var _ extv1.ExtensionServer = (*server)(nil)
