package email

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ErrQueueFull means the outbox holds as many messages as it may; the
// message was not queued.
var ErrQueueFull = errors.New("email queue full")

// ErrClosed means the outbox is stopping and takes no more messages.
var ErrClosed = errors.New("email outbox closed")

// Deliverer sends one message; *Sender is one.
type Deliverer interface {
	Send(ctx context.Context, m Message) error
}

// DefaultBackoff are the waits between delivery attempts: five attempts
// over about two and a half minutes ride out a restarting mail server.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// Outbox sends messages in the background, in order, retrying failed
// deliveries, so a request never waits for a mail server.
//
// TODO(outbox): the queue lives in memory; messages still queued when the
// api stops are logged and dropped rather than stored for the next start.
type Outbox struct {
	d       Deliverer
	log     *slog.Logger
	backoff []time.Duration

	mu       sync.Mutex
	queue    chan Message
	closed   bool
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// NewOutbox returns an outbox that delivers through d, holding at most
// size waiting messages (default 1000), and starts its sender goroutine.
// Stop must be called to end it.
func NewOutbox(d Deliverer, size int, backoff []time.Duration, log *slog.Logger) *Outbox {
	if size <= 0 {
		size = 1000
	}
	if backoff == nil {
		backoff = DefaultBackoff
	}
	if log == nil {
		log = slog.Default()
	}
	o := &Outbox{d: d, log: log, backoff: backoff, queue: make(chan Message, size),
		stop: make(chan struct{}), done: make(chan struct{})}
	go o.run()
	return o
}

// Enqueue queues m and returns at once.
func (o *Outbox) Enqueue(m Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	select {
	case o.queue <- m:
		return nil
	default:
		return ErrQueueFull
	}
}

func (o *Outbox) run() {
	defer close(o.done)
	for m := range o.queue {
		o.deliver(m)
	}
}

// deliver tries m until it is sent, the attempts run out, or Stop's grace
// period ends during a wait.
func (o *Outbox) deliver(m Message) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-o.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := o.d.Send(ctx, m)
		cancel()
		if err == nil {
			o.log.Info("email sent", "to", m.To, "attempts", attempt+1)
			return
		}
		if attempt >= len(o.backoff) {
			o.log.Error("email not sent; giving up", "to", m.To, "attempts", attempt+1, "error", err)
			return
		}
		o.log.Warn("email delivery failed; will retry", "to", m.To, "attempt", attempt+1,
			"retry_in", o.backoff[attempt].String(), "error", err)
		select {
		case <-time.After(o.backoff[attempt]):
		case <-o.stop:
			o.log.Error("email not sent; outbox stopped", "to", m.To, "attempts", attempt+1)
			return
		}
	}
}

// Stop takes no more messages, lets queued ones go out until ctx ends,
// then abandons the rest (logging each) and returns. It is safe to call
// more than once.
func (o *Outbox) Stop(ctx context.Context) {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		close(o.queue)
	}
	o.mu.Unlock()
	select {
	case <-o.done:
		return
	case <-ctx.Done():
	}
	o.stopOnce.Do(func() { close(o.stop) })
	<-o.done
}
