package scheduler

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// fakeAPI plays the api's part for the scheduler: it answers the schedule
// list, publishes change events and consumes fires, moving each
// schedule's times forward the way the api does.
type fakeAPI struct {
	t    *testing.T
	conn *bus.Conn

	mu     sync.Mutex
	scheds map[string]*busv1.ScheduleState
	fires  []*busv1.Fire
	seen   map[string]int // fire id -> times stored
}

type world struct {
	srv *bus.Server
	cfg config.Config
	api *fakeAPI
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv, err := bus.StartServer(bus.ServerOptions{Host: "127.0.0.1", StoreDir: t.TempDir(),
		User: "tinybase", Password: "pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg := config.Default()
	cfg.Bus.URL = srv.ClientURL()
	cfg.Bus.User, cfg.Bus.Password = "tinybase", "pw"
	conn, err := bus.Connect(context.Background(), bus.ConnectOptions{URL: srv.ClientURL(), User: "tinybase",
		Password: "pw", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := bus.EnsureTopology(context.Background(), conn.JS); err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{t: t, conn: conn, scheds: map[string]*busv1.ScheduleState{}, seen: map[string]int{}}
	sub, err := conn.NC.Subscribe(bus.SchedulesListSubject, api.answer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	cons, err := conn.JS.Consumer(context.Background(), bus.FiresStream, bus.APIFiresConsumer)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(api.consume)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return &world{srv: srv, cfg: cfg, api: api}
}

func (a *fakeAPI) answer(m *nats.Msg) {
	var req busv1.ListSchedulesRequest
	_ = proto.Unmarshal(m.Data, &req)
	a.mu.Lock()
	var ids []string
	for id, s := range a.scheds {
		if s.IsActive && id > req.AfterId {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	reply := &busv1.ListSchedulesReply{}
	for i, id := range ids {
		if i == int(req.Limit) {
			reply.More = true
			break
		}
		reply.Schedules = append(reply.Schedules, proto.Clone(a.scheds[id]).(*busv1.ScheduleState))
	}
	a.mu.Unlock()
	data, _ := proto.Marshal(reply)
	_ = m.Respond(data)
}

func (a *fakeAPI) consume(msg jetstream.Msg) {
	var f busv1.Fire
	if err := proto.Unmarshal(msg.Data(), &f); err != nil {
		a.t.Errorf("bad fire: %v", err)
		return
	}
	a.mu.Lock()
	a.fires = append(a.fires, &f)
	a.seen[msg.Headers().Get(jetstream.MsgIDHeader)]++
	if s := a.scheds[f.ScheduleId]; s != nil && s.Revision == f.Revision {
		if !f.Missed && f.DueAtUs > s.LastRunAtUs {
			s.LastRunAtUs = f.DueAtUs
		}
		if f.NextAtUs == 0 {
			s.IsActive, s.NextRunAtUs = false, 0
		} else if f.NextAtUs > s.NextRunAtUs {
			s.NextRunAtUs = f.NextAtUs
		}
	}
	a.mu.Unlock()
	_ = msg.Ack()
}

// put stores a schedule and announces it.
func (a *fakeAPI) put(id, spec string, next time.Time, active bool) {
	a.mu.Lock()
	s := a.scheds[id]
	if s == nil {
		s = &busv1.ScheduleState{Id: id}
		a.scheds[id] = s
	}
	s.SpecJson, s.IsActive, s.Revision = []byte(spec), active, s.Revision+1
	s.NextRunAtUs = 0
	if active {
		s.NextRunAtUs = next.UnixMicro()
	}
	ev := &busv1.ScheduleEvent{Op: "updated", Schedule: proto.Clone(s).(*busv1.ScheduleState)}
	a.mu.Unlock()
	data, _ := proto.Marshal(ev)
	_ = a.conn.NC.Publish(bus.ScheduleEventPrefix+id, data)
}

func (a *fakeAPI) remove(id string) {
	a.mu.Lock()
	s := a.scheds[id]
	delete(a.scheds, id)
	s.Revision++
	ev := &busv1.ScheduleEvent{Op: "deleted", Schedule: proto.Clone(s).(*busv1.ScheduleState)}
	a.mu.Unlock()
	data, _ := proto.Marshal(ev)
	_ = a.conn.NC.Publish(bus.ScheduleEventPrefix+id, data)
}

// firesOf returns the stored fires of one schedule, in arrival order.
func (a *fakeAPI) firesOf(id string) []*busv1.Fire {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*busv1.Fire
	for _, f := range a.fires {
		if f.ScheduleId == id {
			out = append(out, f)
		}
	}
	return out
}

func (a *fakeAPI) duplicates() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for id, n := range a.seen {
		if n > 1 {
			out = append(out, id)
		}
	}
	return out
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func (w *world) start(id string) running {
	ctx, cancel := context.WithCancel(context.Background())
	r := running{cancel, make(chan error, 1)}
	cfg := w.cfg
	go func() { r.done <- Run(ctx, &cfg, Options{ID: id, Logger: quiet()}) }()
	return r
}

func (r running) stop(t *testing.T) {
	r.cancel()
	err := <-r.done
	r.done <- err // a second stop returns at once
	if err != nil {
		t.Fatal(err)
	}
}
