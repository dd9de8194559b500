package api

import (
	"github.com/nats-io/nats.go"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/collections"
)

// recordEvents publishes record events on the bus, each on
// bus.RecordEventsPrefix + "<collection>.<op>". Core NATS publishing only
// queues the message, so it never blocks the database writer.
type recordEvents struct{ nc *nats.Conn }

func (p recordEvents) Publish(subject string, data []byte) error {
	return p.nc.Publish(bus.RecordEventsPrefix+subject, data)
}

var _ collections.Publisher = recordEvents{}
