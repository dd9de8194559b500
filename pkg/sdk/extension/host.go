package extension

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// ErrNoHost means TinyBase has not connected the host service yet; it does
// before the first hook or route call.
var ErrNoHost = errors.New("host service not connected")

// HostClient calls back into TinyBase. Record writes made through it do
// not run extension hooks.
type HostClient struct {
	c extv1.HostClient

	mu       sync.Mutex
	version  string // settings version last announced by the host
	cachedAt string // version the cache was read at
	cache    map[string]json.RawMessage
}

// seen records the settings version sent with a call.
func (h *HostClient) seen(v string) {
	h.mu.Lock()
	h.version = v
	h.mu.Unlock()
}

// Settings returns the extension's settings keyed without the ext.<name>.
// prefix, defaults applied. It is cached until a setting changes, so
// calling it in every hook costs no round trip.
func (h *HostClient) Settings(ctx context.Context) (map[string]json.RawMessage, error) {
	if h == nil {
		return nil, ErrNoHost
	}
	h.mu.Lock()
	if h.cache != nil && h.cachedAt == h.version && h.version != "" {
		c := h.cache
		h.mu.Unlock()
		return c, nil
	}
	v := h.version
	h.mu.Unlock()
	resp, err := h.c.GetSettings(ctx, &extv1.GetSettingsRequest{})
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(resp.Values))
	for k, val := range resp.Values {
		out[k] = val
	}
	h.mu.Lock()
	h.cache, h.cachedAt = out, v
	h.mu.Unlock()
	return out, nil
}

// Setting decodes one setting into v.
func (h *HostClient) Setting(ctx context.Context, key string, v any) error {
	all, err := h.Settings(ctx)
	if err != nil {
		return err
	}
	raw, ok := all[key]
	if !ok {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// Record is a record as the host returns it.
type Record struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	OwnerID    string          `json:"owner_id"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
}

func recordOf(r *extv1.Record) Record {
	return Record{ID: r.Id, Collection: r.Collection, OwnerID: r.OwnerId, Data: r.DataJson,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// GetRecord reads one record.
func (h *HostClient) GetRecord(ctx context.Context, collection, id string) (Record, error) {
	if h == nil {
		return Record{}, ErrNoHost
	}
	r, err := h.c.GetRecord(ctx, &extv1.GetRecordRequest{Collection: collection, Id: id})
	if err != nil {
		return Record{}, err
	}
	return recordOf(r), nil
}

// ListRecords reads a page of records, filtered as the REST API filters.
func (h *HostClient) ListRecords(ctx context.Context, collection, filter string, limit, offset int) ([]Record, int64,
	error) {
	if h == nil {
		return nil, 0, ErrNoHost
	}
	resp, err := h.c.ListRecords(ctx, &extv1.ListRecordsRequest{Collection: collection, Filter: filter,
		Limit: int32(limit), Offset: int32(offset)})
	if err != nil {
		return nil, 0, err
	}
	out := make([]Record, 0, len(resp.Records))
	for _, r := range resp.Records {
		out = append(out, recordOf(r))
	}
	return out, resp.Total, nil
}

// CreateRecord stores a record owned by ownerID ("" for none).
func (h *HostClient) CreateRecord(ctx context.Context, collection, ownerID string, data any) (Record, error) {
	if h == nil {
		return Record{}, ErrNoHost
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Record{}, err
	}
	r, err := h.c.CreateRecord(ctx, &extv1.CreateRecordRequest{Collection: collection, OwnerId: ownerID, DataJson: raw})
	if err != nil {
		return Record{}, err
	}
	return recordOf(r), nil
}

// UpdateRecord merges patch over a record.
func (h *HostClient) UpdateRecord(ctx context.Context, collection, id string, patch any) (Record, error) {
	if h == nil {
		return Record{}, ErrNoHost
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return Record{}, err
	}
	r, err := h.c.UpdateRecord(ctx, &extv1.UpdateRecordRequest{Collection: collection, Id: id, PatchJson: raw})
	if err != nil {
		return Record{}, err
	}
	return recordOf(r), nil
}

// DeleteRecord deletes a record.
func (h *HostClient) DeleteRecord(ctx context.Context, collection, id string) error {
	if h == nil {
		return ErrNoHost
	}
	_, err := h.c.DeleteRecord(ctx, &extv1.DeleteRecordRequest{Collection: collection, Id: id})
	return err
}

// LogActivity adds an entry to TinyBase's activity log.
func (h *HostClient) LogActivity(ctx context.Context, kind, message string, data any) error {
	if h == nil {
		return ErrNoHost
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = h.c.LogActivity(ctx, &extv1.LogActivityRequest{Kind: kind, Message: message, DataJson: raw})
	return err
}

// CallResult is the outcome of a function call.
type CallResult struct {
	CallID       string          `json:"call_id"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	ErrorMessage string          `json:"error_message,omitempty"`
	ErrorType    string          `json:"error_type,omitempty"`
	DurationMS   int64           `json:"duration_ms"`
}

// CallFunction runs a TinyBase function and waits for its result.
func (h *HostClient) CallFunction(ctx context.Context, function string, payload any) (CallResult, error) {
	if h == nil {
		return CallResult{}, ErrNoHost
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return CallResult{}, err
	}
	r, err := h.c.CallFunction(ctx, &extv1.CallFunctionRequest{Function: function, PayloadJson: raw})
	if err != nil {
		return CallResult{}, err
	}
	return CallResult{CallID: r.CallId, Status: r.Status, Result: r.ResultJson, ErrorMessage: r.ErrorMessage,
		ErrorType: r.ErrorType, DurationMS: r.DurationMs}, nil
}
