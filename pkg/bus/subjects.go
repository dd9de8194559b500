package bus

// Subjects, streams and buckets of the bus contract. Every role refers to
// these names; none is spelled out anywhere else.
const (
	// CallsStream is the work queue of function calls.
	CallsStream = "TB_CALLS"
	// CallSubjectPrefix + function name carries a CallRequest.
	CallSubjectPrefix = "tb.calls.run."
	// WorkersConsumer is the durable pull consumer all workers share.
	WorkersConsumer = "tb-workers"

	// ResultsStream holds CallResults until the api has recorded them.
	ResultsStream = "TB_RESULTS"
	// ResultSubjectPrefix + call id carries a CallResult.
	ResultSubjectPrefix = "tb.calls.result."
	// APIResultsConsumer is the api's durable consumer of results.
	APIResultsConsumer = "tb-api-results"

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

	// StatusSubject is answered by every live role; see status.go.
	StatusSubject = "tb.status"
	// ServiceName is the NATS micro service name every role registers.
	ServiceName = "tinybase"

	// EventsPrefix starts the subjects of record, auth and call events.
	EventsPrefix = "tb.events."
)

// MaxDeliverAdvisory is published by JetStream when a call exhausted its
// delivery attempts (for example, because every worker running it died).
const MaxDeliverAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + CallsStream + "." + WorkersConsumer
