// Package extension is the Go SDK for TinyBase extensions. An extension is
// a program that registers hooks, routes and settings on an *Extension and
// calls Serve; TinyBase starts it as a plugin process and talks gRPC to it
// (see docs/extensions.md).
//
//	func main() {
//		ext := extension.New("hello", "1.0.0")
//		ext.AfterCreate(func(ctx context.Context, ev *extension.RecordEvent) error {
//			log.Printf("created %s/%s", ev.Collection, ev.RecordID)
//			return nil
//		})
//		ext.Serve()
//	}
package extension

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tinybase/tinybase/pkg/extension/wire"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// Hook names an event; see the Hook* constants.
type Hook = extv1.Hook

// The hooks an extension can register.
const (
	HookBeforeCreate        = extv1.Hook_HOOK_RECORD_BEFORE_CREATE
	HookBeforeUpdate        = extv1.Hook_HOOK_RECORD_BEFORE_UPDATE
	HookBeforeDelete        = extv1.Hook_HOOK_RECORD_BEFORE_DELETE
	HookAfterCreate         = extv1.Hook_HOOK_RECORD_AFTER_CREATE
	HookAfterUpdate         = extv1.Hook_HOOK_RECORD_AFTER_UPDATE
	HookAfterDelete         = extv1.Hook_HOOK_RECORD_AFTER_DELETE
	HookUserRegistered      = extv1.Hook_HOOK_USER_REGISTERED
	HookUserLogin           = extv1.Hook_HOOK_USER_LOGIN
	HookFunctionCallStarted = extv1.Hook_HOOK_FUNCTION_CALL_STARTED
	HookFunctionCallDone    = extv1.Hook_HOOK_FUNCTION_CALL_FINISHED
	HookScheduleFired       = extv1.Hook_HOOK_SCHEDULE_FIRED
	HookAPIStarted          = extv1.Hook_HOOK_API_STARTED
	HookAPIStopping         = extv1.Hook_HOOK_API_STOPPING
)

// RecordHandler handles a record hook. A before-hook refuses the operation
// by returning Refuse(...) and modifies it with RecordEvent.Set; any other
// error counts as a failure of the extension, which TinyBase handles by
// the extension's failure policy.
type RecordHandler func(ctx context.Context, ev *RecordEvent) error

// EventHandler handles a non-record hook (login, calls, schedules, …).
type EventHandler func(ctx context.Context, ev *Event) error

// RouteHandler serves one HTTP request under /api/ext/<name>/.
type RouteHandler func(ctx context.Context, req *Request) (*Response, error)

// Extension is what an extension program builds and serves.
type Extension struct {
	Name        string
	Version     string
	Description string
	Author      string

	records  map[Hook][]recordSub
	events   map[Hook][]EventHandler
	routes   []route
	settings []*extv1.SettingSpec

	host host
}

type recordSub struct {
	collections []string
	fn          RecordHandler
}

// New returns an extension named name (lower-case letters, digits and
// '-', starting with a letter).
func New(name, version string) *Extension {
	return &Extension{Name: name, Version: version, records: map[Hook][]recordSub{}, events: map[Hook][]EventHandler{}}
}

// OnRecord registers fn for a record hook, limited to the given
// collections (none means all).
func (e *Extension) OnRecord(h Hook, fn RecordHandler, collections ...string) {
	e.records[h] = append(e.records[h], recordSub{collections: collections, fn: fn})
}

// BeforeCreate registers a hook that may refuse or modify new records.
func (e *Extension) BeforeCreate(fn RecordHandler, collections ...string) {
	e.OnRecord(HookBeforeCreate, fn, collections...)
}

// BeforeUpdate registers a hook that may refuse or modify record patches.
func (e *Extension) BeforeUpdate(fn RecordHandler, collections ...string) {
	e.OnRecord(HookBeforeUpdate, fn, collections...)
}

// BeforeDelete registers a hook that may refuse record deletes.
func (e *Extension) BeforeDelete(fn RecordHandler, collections ...string) {
	e.OnRecord(HookBeforeDelete, fn, collections...)
}

// AfterCreate registers a hook told of every created record.
func (e *Extension) AfterCreate(fn RecordHandler, collections ...string) {
	e.OnRecord(HookAfterCreate, fn, collections...)
}

// AfterUpdate registers a hook told of every updated record.
func (e *Extension) AfterUpdate(fn RecordHandler, collections ...string) {
	e.OnRecord(HookAfterUpdate, fn, collections...)
}

// AfterDelete registers a hook told of every deleted record.
func (e *Extension) AfterDelete(fn RecordHandler, collections ...string) {
	e.OnRecord(HookAfterDelete, fn, collections...)
}

// On registers fn for a non-record hook.
func (e *Extension) On(h Hook, fn EventHandler) { e.events[h] = append(e.events[h], fn) }

// Setting declares the setting ext.<name>.<key>, validated by TinyBase
// against schema (a JSON Schema), with def in force while it is unset.
// It panics if schema or def is not JSON, as that is a programming error.
func (e *Extension) Setting(key string, schema, def any, description string) {
	sj, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("extension setting %s: schema: %v", key, err))
	}
	dj, err := json.Marshal(def)
	if err != nil {
		panic(fmt.Sprintf("extension setting %s: default: %v", key, err))
	}
	e.settings = append(e.settings, &extv1.SettingSpec{Key: key, SchemaJson: sj, DefaultJson: dj,
		Description: description})
}

// Route serves method and path (below /api/ext/<name>, a trailing "/*"
// matching any rest) to callers allowed by auth: "public", "user" or
// "admin". TinyBase checks auth before the request reaches the extension.
func (e *Extension) Route(method, path, auth string, fn RouteHandler) {
	e.routes = append(e.routes, route{spec: &extv1.RouteSpec{Method: method, Path: path, Auth: auth}, fn: fn})
}

// Host is the client of TinyBase's host service: records, settings,
// activity and functions. It is usable from the first hook or route call.
func (e *Extension) Host() *HostClient { return e.host.get() }

// Serve runs the plugin until TinyBase stops it. Started any other way it
// prints a hint and exits with status 1.
func (e *Extension) Serve() {
	if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is a TinyBase extension: install it with `tinybase extensions install`\n", e.Name)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins: plugin.PluginSet{wire.PluginName: &wire.Plugin{
			Impl: func(b *plugin.GRPCBroker) extv1.ExtensionServer { return &server{ext: e, broker: b} },
		}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			// A fixed window turns off gRPC's bandwidth probing, whose pings
			// would add frames to every small hook call.
			return grpc.NewServer(append(opts, grpc.InitialWindowSize(1<<20), grpc.InitialConnWindowSize(1<<20),
				grpc.MaxRecvMsgSize(wire.MaxMessage), grpc.MaxSendMsgSize(wire.MaxMessage))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: e.Name, Output: os.Stderr, Level: hclog.Warn,
			JSONFormat: true}),
	})
}

// host holds the lazily dialled host client.
type host struct {
	mu sync.Mutex
	c  *HostClient
}

func (h *host) get() *HostClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.c
}

func (h *host) set(c *HostClient) {
	h.mu.Lock()
	h.c = c
	h.mu.Unlock()
}
