package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/schedule"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// Publishing limits.
const (
	// maxPendingFires bounds fires published but not yet acknowledged by
	// the bus; 10,000 schedules due at once fit.
	maxPendingFires = 16384
	// fireAckTimeout is how long a fire may wait for the bus to store it
	// before it is published again.
	fireAckTimeout = 5 * time.Second
	// fireRetries is how often a fire the bus did not store is published
	// again (same message id, so never stored twice).
	fireRetries = 5
)

// publisher sends fires into the TB_FIRES work queue without waiting for
// each acknowledgement: the timer loop hands a fire over and goes on. Only
// failures come back (a publish the bus refused or did not acknowledge in
// time), and are published again synchronously on a goroutine of their
// own, so a healthy fire costs no wake-up besides its own publish.
type publisher struct {
	js  jetstream.JetStream
	log *slog.Logger
	wg  sync.WaitGroup
}

func newPublisher(nc *nats.Conn, log *slog.Logger) (*publisher, error) {
	p := &publisher{log: log}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingFires),
		jetstream.WithPublishAsyncTimeout(fireAckTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			p.retry(m.Subject, m.Header.Get(jetstream.MsgIDHeader), m.Data, err)
		}))
	if err != nil {
		return nil, err
	}
	p.js = js
	return p, nil
}

// fire publishes f with the message id of its schedule and instant.
func (p *publisher) fire(f *busv1.Fire) {
	f.PublishedAtUs = time.Now().UnixMicro()
	data, err := proto.Marshal(f)
	if err != nil {
		p.log.Error("encode fire failed", "schedule_id", f.ScheduleId, "error", err)
		return
	}
	subject := bus.FireSubjectPrefix + f.ScheduleId
	msgID := schedule.FireID(f.ScheduleId, time.UnixMicro(f.DueAtUs))
	if _, err := p.js.PublishAsync(subject, data, jetstream.WithMsgID(msgID)); err != nil {
		p.retry(subject, msgID, data, err)
	}
}

// retry publishes a fire again in the background until the bus stores it.
func (p *publisher) retry(subject, msgID string, data []byte, cause error) {
	p.log.Warn("fire not stored; publishing it again", "fire", msgID, "error", cause)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; i < fireRetries; i++ {
			time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), fireAckTimeout)
			_, err := p.js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID))
			cancel()
			if err == nil {
				return
			}
			p.log.Warn("publish fire failed", "fire", msgID, "attempt", i+1, "error", err)
		}
		// The stored next instant still points at this fire (the api never
		// recorded it), so the next leader, or this one after a reload,
		// fires it again.
		p.log.Error("fire lost: the bus did not store it", "fire", msgID)
	}()
}

// stop waits briefly for fires in flight and for retries to end.
func (p *publisher) stop() {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-time.After(2 * time.Second):
	}
	p.wg.Wait()
}
