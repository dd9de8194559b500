package bus

import (
	"time"

	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// Subjects, streams and buckets of the bus contract. Every role refers to
// these names; none is spelled out anywhere else.
const (
	// CallsStream is the work queue of function calls.
	CallsStream = "TB_CALLS"
	// CallSubjectPrefix starts the subject of a queued CallRequest; see
	// CallSubject.
	CallSubjectPrefix = "tb.calls.run."
	// WorkersConsumer is the durable pull consumer all workers share.
	WorkersConsumer = "tb-workers"

	// DirectCallPrefix + worker subject token (see DirectCallSubject)
	// carries a CallRequest sent to that worker alone, for a caller
	// waiting on the result. The request's reply subject gets
	// DirectBusy if the worker has no free slot, and NATS answers it with
	// no-responders if the worker is gone; either way the api queues the
	// call in CallsStream instead. Otherwise the result comes back like
	// any other (ResultDirectSubject, else ResultsStream).
	DirectCallPrefix = "tb.calls.direct."
	// DirectBusy is a worker's reply to a direct call it cannot take now.
	DirectBusy = "busy"

	// ResultsStream holds CallResults until the api has recorded them.
	ResultsStream = "TB_RESULTS"
	// ResultSubjectPrefix + call id carries a CallResult.
	ResultSubjectPrefix = "tb.calls.result."
	// APIResultsConsumer is the api's durable consumer of results.
	APIResultsConsumer = "tb-api-results"
	// ResultDirectSubject is the fast path of a result: a worker sends its
	// CallResult here as a request, and the api replies once the outcome
	// is committed. Without a reply the worker stores the result in
	// ResultsStream instead, so the fast path never loses one.
	ResultDirectSubject = "tb.calls.done"
	// ResultRecorded is the api's reply on ResultDirectSubject once the
	// result is committed; any other reply means "use the stream".
	ResultRecorded = "recorded"
	// ResultDirectTimeout bounds how long a worker waits for that reply.
	ResultDirectTimeout = 5 * time.Second

	// DescribeStream is the work queue of metadata requests for bundles.
	DescribeStream = "TB_DESCRIBE"
	// DescribeSubject carries a DescribeRequest.
	DescribeSubject = "tb.functions.describe"
	// DescribeConsumer is the durable pull consumer workers share for it.
	DescribeConsumer = "tb-workers-describe"

	// BundlesBucket is the object store of function bundles, one object per
	// version, named "<sha256>/<file>".
	BundlesBucket = "tb_functions"
	// MetaBucket is the KV bucket of described functions, keyed by file.
	MetaBucket = "tb_functions_meta"
	// LeasesBucket is the KV bucket holding leader leases.
	LeasesBucket = "tb_leases"

	// FiresStream is the work queue of due schedule runs.
	FiresStream = "TB_FIRES"
	// FireSubjectPrefix + schedule id carries a Fire, with the message id
	// "<schedule id>@<due instant>" for deduplication.
	FireSubjectPrefix = "tb.schedules.fire."
	// APIFiresConsumer is the api's durable consumer of fires.
	APIFiresConsumer = "tb-api-fires"
	// SchedulesListSubject is answered by the api with a page of active
	// schedules (ListSchedulesRequest, ListSchedulesReply).
	SchedulesListSubject = "tb.schedules.list"
	// ScheduleEventPrefix + schedule id carries a ScheduleEvent after each
	// committed change.
	ScheduleEventPrefix = EventsPrefix + "schedules."

	// StatusSubject is answered by every live role; see status.go.
	StatusSubject = "tb.status"
	// ServiceName is the NATS micro service name every role registers.
	ServiceName = "tinybase"

	// WorkerHeartbeatSubject carries each worker's RoleStatus every
	// WorkerHeartbeatInterval; the api uses it to know whether any worker
	// is live.
	WorkerHeartbeatSubject = "tb.workers.heartbeat"
	// WorkerLeavingSubject carries the id of a worker that stops taking
	// calls, so the api stops counting on it at once.
	WorkerLeavingSubject = "tb.workers.leaving"

	// EventsPrefix starts the subjects of record, auth and call events.
	EventsPrefix = "tb.events."
	// RecordEventsPrefix + "<collection>.<op>" (op: create, update, delete)
	// carries a JSON record event after its write committed; see
	// docs/collections.md.
	RecordEventsPrefix = EventsPrefix + "records."
	// SettingsChangedSubject carries a JSON event after each committed
	// change of the runtime settings: {"keys", "updated_at", "settings"}
	// (secret values left out). See docs/settings.md.
	SettingsChangedSubject = EventsPrefix + "settings.changed"
)

// MaxDeliverAdvisory is published by JetStream when a call exhausted its
// delivery attempts (for example, because every worker running it died).
const MaxDeliverAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + CallsStream + "." + WorkersConsumer

// WorkerHeartbeatInterval is how often workers announce themselves.
const WorkerHeartbeatInterval = time.Second

// CallSubject is the subject a call is queued on in CallsStream:
// tb.calls.run.<function>.<call id>. The call id lets the api ask the
// stream whether a call is still queued (a worker that drained handed it
// back) before it gives the call up for lost.
func CallSubject(function, callID string) string {
	return CallSubjectPrefix + function + "." + callID
}

// DirectCallSubject is the subject a worker takes direct calls on: its id,
// with every character outside [A-Za-z0-9_-] replaced by '_' so that host
// names with dots or odd characters still make one subject token.
func DirectCallSubject(workerID string) string {
	b := []byte(workerID)
	for i, c := range b {
		if !(c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			b[i] = '_'
		}
	}
	return DirectCallPrefix + string(b)
}

// OriginOf is what a worker echoes of a call's request in its result.
func OriginOf(req *busv1.CallRequest) *busv1.CallOrigin {
	return &busv1.CallOrigin{FunctionName: req.FunctionName, TriggerType: req.TriggerType,
		TriggerId: req.TriggerId, UserId: req.GetContext().GetUserId(), VersionId: req.VersionId,
		EnqueuedAtMs: req.EnqueuedAtMs, KeepResult: req.KeepResult}
}
