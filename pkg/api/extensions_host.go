package api

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/extension"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// extensionFunctions lets extensions call functions through the
// dispatcher, as the system (no user), whatever the function's auth rule:
// an extension is code the admin installed. The call is recorded with
// trigger id "ext:<name>".
type extensionFunctions struct{ s *Server }

func (f extensionFunctions) CallFunction(ctx context.Context, ext, function string,
	payload json.RawMessage) (*extv1.CallFunctionResponse, error) {
	m, ok := f.s.registry.Get(function)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "function '%s' not found", function)
	}
	res, err := f.s.dispatch.call(ctx, callInput{Meta: m, Payload: payload, TriggerType: calls.TriggerManual,
		TriggerID: "ext:" + ext})
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	out := &extv1.CallFunctionResponse{CallId: res.CallID, Status: res.Status, ResultJson: res.Result,
		DurationMs: res.DurationMS}
	if res.ErrorMessage != nil {
		out.ErrorMessage = *res.ErrorMessage
	}
	if res.ErrorType != nil {
		out.ErrorType = *res.ErrorType
	}
	return out, nil
}

var _ extension.FunctionCaller = extensionFunctions{}
