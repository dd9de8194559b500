package runner

import "errors"

var (
	// ErrNotRunnable means a function file cannot be started: it is missing,
	// not a regular file, or neither a .py file nor executable.
	ErrNotRunnable = errors.New("function file is not runnable")

	// ErrDescribeFailed means `<cmd> --metadata` exited with an error or
	// timed out.
	ErrDescribeFailed = errors.New("describe function failed")

	// ErrInvalidMetadata means the metadata printed by a function is not a
	// valid metadata object.
	ErrInvalidMetadata = errors.New("invalid function metadata")
)

// Error types reported in Result.ErrorType for failures detected by the
// runner itself. Failures raised by the function's own code carry the type
// the function reported (for Python, the exception class name).
const (
	// ErrorTypeTimeout: the call did not answer within Request.Timeout.
	ErrorTypeTimeout = "TimeoutError"
	// ErrorTypeSubprocess: the process exited or closed its pipes mid-call.
	ErrorTypeSubprocess = "SubprocessError"
	// ErrorTypeJSONDecode: the response line was not valid JSON.
	ErrorTypeJSONDecode = "JSONDecodeError"
	// ErrorTypeResultSize: the result exceeded Options.MaxResultBytes.
	ErrorTypeResultSize = "ResultSizeError"
	// ErrorTypeCancelled: the caller's context ended or the runner closed.
	ErrorTypeCancelled = "Cancelled"
	// ErrorTypeProtocol: the process broke the serve protocol (bad ready
	// line, response id mismatch).
	ErrorTypeProtocol = "ProtocolError"
	// ErrorTypeStart: the process could not be started.
	ErrorTypeStart = "StartError"
	// ErrorTypeInvalidRequest: the request payload is not valid JSON.
	ErrorTypeInvalidRequest = "InvalidRequest"
	// ErrorTypeUnknown: a failed response named no error type.
	ErrorTypeUnknown = "Error"
)
