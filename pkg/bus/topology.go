package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology timing. A worker reports progress on a running call every
// CallProgressInterval; a call whose worker went silent for CallAckWait is
// redelivered to another worker, at most CallMaxDeliver times in all.
const (
	CallAckWait          = 10 * time.Second
	CallProgressInterval = 3 * time.Second
	CallMaxDeliver       = 3
	dedupWindow          = 10 * time.Minute
)

// EnsureTopology creates or updates every stream, consumer and bucket the
// roles use. It is idempotent, so every role calls it at start and the
// start order does not matter.
func EnsureTopology(ctx context.Context, js jetstream.JetStream) error {
	streams := []jetstream.StreamConfig{
		{
			Name:        CallsStream,
			Description: "function calls waiting for a worker",
			Subjects:    []string{CallSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Duplicates:  dedupWindow,
		},
		{
			Name:        ResultsStream,
			Description: "call results waiting to be recorded by the api",
			Subjects:    []string{ResultSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Duplicates:  dedupWindow,
		},
		{
			Name:        FiresStream,
			Description: "due schedule runs waiting to be recorded and queued by the api",
			Subjects:    []string{FireSubjectPrefix + ">"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Duplicates:  dedupWindow,
		},
		{
			Name:        DescribeStream,
			Description: "function bundles waiting to be described by a worker",
			Subjects:    []string{DescribeSubject},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Duplicates:  dedupWindow,
		},
	}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	consumers := []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{CallsStream, jetstream.ConsumerConfig{
			Durable:       WorkersConsumer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       CallAckWait,
			MaxDeliver:    CallMaxDeliver,
			MaxAckPending: 10000,
		}},
		{ResultsStream, jetstream.ConsumerConfig{
			Durable:       APIResultsConsumer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 10000,
		}},
		{FiresStream, jetstream.ConsumerConfig{
			Durable:       APIFiresConsumer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 10000,
		}},
		{DescribeStream, jetstream.ConsumerConfig{
			Durable:    DescribeConsumer,
			AckPolicy:  jetstream.AckExplicitPolicy,
			AckWait:    90 * time.Second,
			MaxDeliver: 3,
		}},
	}
	for _, c := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg); err != nil {
			return fmt.Errorf("consumer %s on %s: %w", c.cfg.Durable, c.stream, err)
		}
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      BundlesBucket,
		Description: "function bundles, one object per version",
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("object store %s: %w", BundlesBucket, err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      MetaBucket,
		Description: "described functions, keyed by file",
		Storage:     jetstream.FileStorage,
		History:     1,
	}); err != nil {
		return fmt.Errorf("kv %s: %w", MetaBucket, err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LeasesBucket,
		Description: "leader leases",
		Storage:     jetstream.FileStorage,
		History:     1,
		TTL:         LeaseTTL,
	}); err != nil {
		return fmt.Errorf("kv %s: %w", LeasesBucket, err)
	}
	return nil
}

// LeaseTTL is how long a leader lease survives without renewal.
const LeaseTTL = 10 * time.Second
