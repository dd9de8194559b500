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
	// fireAckWait is how long the bus may take to acknowledge a fire
	// before it is published again.
	fireAckWait = 10 * time.Second
	// fireRetries is how often a fire the bus did not store is published
	// again (same message id, so never stored twice).
	fireRetries = 5
)

// publisher sends fires into the TB_FIRES work queue without waiting for
// each acknowledgement: the timer loop hands a batch of fires over and
// goes on, and a helper goroutine checks the acknowledgements and
// publishes again, synchronously, whatever the bus did not store.
type publisher struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.Mutex
	waiting []pendingFire
	kick    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
}

type pendingFire struct {
	fut     jetstream.PubAckFuture // nil when the publish failed at once
	subject string
	msgID   string
	data    []byte
}

func newPublisher(nc *nats.Conn, log *slog.Logger) (*publisher, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingFires))
	if err != nil {
		return nil, err
	}
	p := &publisher{js: js, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	p.wg.Add(1)
	go p.confirm()
	return p, nil
}

// fire publishes f with the message id of its schedule and instant. The
// acknowledgement is checked after the next flush.
func (p *publisher) fire(f *busv1.Fire) {
	f.PublishedAtUs = time.Now().UnixMicro()
	data, err := proto.Marshal(f)
	if err != nil {
		p.log.Error("encode fire failed", "schedule_id", f.ScheduleId, "error", err)
		return
	}
	w := pendingFire{subject: bus.FireSubjectPrefix + f.ScheduleId,
		msgID: schedule.FireID(f.ScheduleId, time.UnixMicro(f.DueAtUs)), data: data}
	w.fut, err = p.js.PublishAsync(w.subject, data, jetstream.WithMsgID(w.msgID))
	if err != nil {
		w.fut = nil
		p.log.Warn("publish fire failed; will retry", "fire", w.msgID, "error", err)
	}
	p.mu.Lock()
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
}

// flush has the helper check the fires published since the last flush.
func (p *publisher) flush() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *publisher) confirm() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			p.settle(true)
			return
		case <-p.kick:
			p.settle(false)
		}
	}
}

// settle waits for the acknowledgement of every waiting fire and publishes
// again those the bus refused or did not acknowledge in time. When
// stopping it does not retry: the stored next instant still points at a
// fire the api never recorded, so the next leader fires it.
func (p *publisher) settle(stopping bool) {
	p.mu.Lock()
	batch := p.waiting
	p.waiting = nil
	p.mu.Unlock()
	timeout := time.NewTimer(fireAckWait)
	defer timeout.Stop()
	expired := false
	for _, w := range batch {
		if w.fut != nil {
			var err error
			if expired {
				select {
				case <-w.fut.Ok():
					continue
				default:
					err = context.DeadlineExceeded
				}
			} else {
				select {
				case <-w.fut.Ok():
					continue
				case err = <-w.fut.Err():
				case <-timeout.C:
					expired, err = true, context.DeadlineExceeded
				}
			}
			p.log.Warn("fire not stored", "fire", w.msgID, "error", err)
		}
		if !stopping {
			p.retry(w)
		}
	}
}

func (p *publisher) retry(w pendingFire) {
	for i := 0; i < fireRetries; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := p.js.Publish(ctx, w.subject, w.data, jetstream.WithMsgID(w.msgID))
		cancel()
		if err == nil {
			return
		}
		p.log.Warn("publish fire failed", "fire", w.msgID, "attempt", i+1, "error", err)
		time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
	}
	// The stored next instant still points at this fire (the api never
	// recorded it), so the next leader, or this one after a reload, fires
	// it again.
	p.log.Error("fire lost: the bus did not store it", "fire", w.msgID)
}

// stop settles the fires in flight and ends the helper goroutine.
func (p *publisher) stop() {
	close(p.done)
	p.wg.Wait()
}
