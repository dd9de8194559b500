package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// RoleStatus describes one live role instance. Every role answers status
// requests on StatusSubject with it, so `tinybase status` and the admin UI
// see the whole deployment, whatever host each role runs on.
type RoleStatus struct {
	Role        string `json:"role"`
	ID          string `json:"id"`
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	Version     string `json:"version"`
	StartedAt   string `json:"started_at"`
	Concurrency int    `json:"concurrency,omitempty"`
	InFlight    int    `json:"in_flight"`
	// Leader is set for schedulers: whether this one holds the lease.
	Leader *bool `json:"leader,omitempty"`
	// Direct is set by workers that take calls on their DirectCallSubject.
	Direct bool `json:"direct,omitempty"`
	// Draining is set by a worker that finishes its calls before it stops
	// and takes no new ones.
	Draining bool `json:"draining,omitempty"`
	// Calls lists, in a worker's heartbeat, the direct calls it has taken
	// and not yet delivered: a call the api sent that stays missing was
	// lost on the way.
	Calls []string `json:"calls,omitempty"`
}

// RegisterStatus registers the role as an instance of the "tinybase" NATS
// micro service (so `nats micro ls` lists it) whose status endpoint answers
// with the current value of info().
func RegisterStatus(nc *nats.Conn, info func() RoleStatus) (micro.Service, error) {
	first := info()
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     "0.1.0",
		Description: "TinyBase role",
		Metadata: map[string]string{
			"role": first.Role, "id": first.ID, "host": first.Host, "pid": fmt.Sprint(first.PID),
		},
		StatsHandler: func(*micro.Endpoint) any { return info() },
	})
	if err != nil {
		return nil, fmt.Errorf("register status service: %w", err)
	}
	err = svc.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON(info())
	}), micro.WithEndpointSubject(StatusSubject), micro.WithEndpointQueueGroupDisabled())
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("register status endpoint: %w", err)
	}
	return svc, nil
}

// CollectStatus asks every live role for its status and gathers the answers
// that arrive within wait, sorted by role and id.
func CollectStatus(ctx context.Context, nc *nats.Conn, wait time.Duration) ([]RoleStatus, error) {
	return CollectStatusFunc(ctx, nc, wait, nil)
}

// CollectStatusFunc is CollectStatus that also calls each (when set) for
// every answer as it arrives; cancelling ctx ends the wait early.
func CollectStatusFunc(ctx context.Context, nc *nats.Conn, wait time.Duration,
	each func(RoleStatus)) ([]RoleStatus, error) {
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(StatusSubject, inbox, nil); err != nil {
		return nil, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var out []RoleStatus
	for {
		select {
		case m := <-ch:
			var st RoleStatus
			if json.Unmarshal(m.Data, &st) == nil {
				out = append(out, st)
				if each != nil {
					each(st)
				}
			}
		case <-timer.C:
			sort.Slice(out, func(i, j int) bool {
				if out[i].Role != out[j].Role {
					return out[i].Role < out[j].Role
				}
				return out[i].ID < out[j].ID
			})
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}
