package bus

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// These benchmarks give the floor the bus puts under a function call:
// one core request/reply (the result's way back) and one work-queue
// delivery (the call's way out), between two connections to an embedded
// server. Run with -benchtime; report ns/op.

func benchBus(b *testing.B) (a, c *Conn) {
	b.Helper()
	srv, err := StartServer(ServerOptions{Host: "127.0.0.1", StoreDir: b.TempDir(), User: "u", Password: "p"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	ctx := context.Background()
	connect := func(name string) *Conn {
		conn, err := Connect(ctx, ConnectOptions{URL: srv.ClientURL(), User: "u", Password: "p", Name: name})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(conn.Close)
		return conn
	}
	a, c = connect("a"), connect("b")
	if err := EnsureTopology(ctx, a.JS); err != nil {
		b.Fatal(err)
	}
	return a, c
}

func BenchmarkCoreRequestReply(b *testing.B) {
	a, c := benchBus(b)
	sub, err := c.NC.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := c.NC.Flush(); err != nil { // the server knows the subscription
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.NC.Request("bench.echo", []byte("x"), time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallQueueDelivery times a publish to the call work queue until
// a waiting Fetch(1), as each worker slot issues, receives it.
func BenchmarkCallQueueDelivery(b *testing.B) {
	a, c := benchBus(b)
	ctx := context.Background()
	cons, err := c.JS.Consumer(ctx, CallsStream, WorkersConsumer)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		got := make(chan time.Time, 1)
		go func() {
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				return
			}
			for m := range batch.Messages() {
				got <- time.Now()
				_ = m.Ack()
			}
		}()
		time.Sleep(time.Millisecond) // let the pull request reach the server
		t0 := time.Now()
		if _, err := a.JS.PublishAsync(CallSubjectPrefix+"bench", []byte("x"),
			jetstream.WithMsgID(uuid.NewString())); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-got:
			total += t1.Sub(t0)
		case <-time.After(5 * time.Second):
			b.Fatal("call never delivered")
		}
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/delivery")
}
