package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/settings"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// Records is the part of *collections.Service the host service uses.
type Records interface {
	GetRecord(ctx context.Context, coll, id string) (collections.Record, error)
	ListRecords(ctx context.Context, coll string, o collections.ListOptions) (collections.Page, error)
	CreateRecord(ctx context.Context, coll string, ownerID *string, data json.RawMessage) (collections.Record, error)
	UpdateRecord(ctx context.Context, coll, id string, patch json.RawMessage) (collections.Record, error)
	DeleteRecord(ctx context.Context, coll, id string) error
}

// Settings gives the settings in force.
type Settings interface {
	Current() *settings.Snapshot
}

// settingsUpdater is the part of *settings.Service that Uninstall uses to
// delete an extension's settings (a null value deletes an ext.* key).
type settingsUpdater interface {
	Update(ctx context.Context, changes map[string]json.RawMessage) (*settings.Snapshot, []string, error)
}

// ActivityLogger records what an extension reports to the activity log.
type ActivityLogger interface {
	Log(ctx context.Context, ext, kind, message string, data map[string]any) error
}

// FunctionCaller runs a function for an extension and waits for it.
type FunctionCaller interface {
	CallFunction(ctx context.Context, ext, function string, payload json.RawMessage) (*extv1.CallFunctionResponse,
		error)
}

// HostDeps is what the host service reaches. A nil field answers
// Unimplemented.
type HostDeps struct {
	Records   Records
	Settings  Settings
	Activity  ActivityLogger
	Functions FunctionCaller
}

// hostFor returns the host service as seen by one extension.
func (m *Manager) hostFor(name string) extv1.HostServer {
	return &hostServer{m: m, name: name}
}

// settingsVersion changes whenever a setting does; extensions cache their
// settings until it changes.
func (m *Manager) settingsVersion() string {
	if m.opts.Host.Settings == nil {
		return "none"
	}
	return "v:" + m.opts.Host.Settings.Current().UpdatedAt
}

// SettingsOf returns an extension's settings, keyed without the
// ext.<name>. prefix: every declared key (its default while unset) and
// any other stored ext.<name>.* key. A stored value that does not match
// its declared schema (stored while the extension was not installed, when
// keys are free-form) is left out, so the default stands and the
// extension always sees valid settings.
func (m *Manager) SettingsOf(name string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	mf := (*m.manifests.Load())[name]
	for _, s := range mf.Settings {
		if len(s.Default) > 0 {
			out[s.Key] = s.Default
		}
	}
	stored, bad := m.storedSettings(name, mf)
	for k, v := range stored {
		if _, skip := bad[k]; !skip {
			out[k] = v
		}
	}
	return out
}

// storedSettings returns the stored ext.<name>.* values keyed without the
// prefix, and the declared keys among them whose value does not match the
// declared schema, with the reason.
func (m *Manager) storedSettings(name string, mf Manifest) (map[string]json.RawMessage, map[string]string) {
	stored, bad := map[string]json.RawMessage{}, map[string]string{}
	if m.opts.Host.Settings == nil {
		return stored, bad
	}
	prefix := settings.ExtPrefix + name + "."
	for k, v := range m.opts.Host.Settings.Current().Public() {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if raw, ok := v.(json.RawMessage); ok {
			stored[rest] = raw
		}
	}
	for _, s := range mf.Settings {
		raw, ok := stored[s.Key]
		if !ok {
			continue
		}
		errs, err := functions.ValidateInput(s.Schema, raw)
		switch {
		case err != nil:
			bad[s.Key] = err.Error()
		case len(errs) > 0:
			bad[s.Key] = describeErrs(errs)
		}
	}
	return stored, bad
}

// warnBadSettings logs each stored setting of a starting extension that
// its schema refuses and that it therefore does not see.
func (m *Manager) warnBadSettings(name string, mf Manifest) {
	_, bad := m.storedSettings(name, mf)
	for k, why := range bad {
		m.log.Warn("stored extension setting does not match its schema; the extension gets the default",
			"extension", name, "key", settings.ExtPrefix+name+"."+k, "error", why)
	}
}

// deleteSettings deletes every stored ext.<name>.* setting.
func (m *Manager) deleteSettings(ctx context.Context, name string) error {
	up, ok := m.opts.Host.Settings.(settingsUpdater)
	if !ok {
		return nil
	}
	stored, _ := m.storedSettings(name, Manifest{})
	if len(stored) == 0 {
		return nil
	}
	changes := make(map[string]json.RawMessage, len(stored))
	for k := range stored {
		changes[settings.ExtPrefix+name+"."+k] = json.RawMessage("null")
	}
	if _, _, err := up.Update(ctx, changes); err != nil {
		return fmt.Errorf("delete settings of %s: %w", name, err)
	}
	return nil
}

// hostServer is the Host service for one extension.
type hostServer struct {
	extv1.UnimplementedHostServer
	m    *Manager
	name string
}

func (h *hostServer) records() (Records, error) {
	if h.m.opts.Host.Records == nil {
		return nil, status.Error(codes.Unimplemented, "records are not available")
	}
	return h.m.opts.Host.Records, nil
}

// rpcErr maps domain errors to gRPC codes, keeping their messages.
func rpcErr(err error) error {
	var (
		verr *collections.ValidationError
		uerr *collections.UniqueError
		rerr *collections.ReferencedError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, collections.ErrCollectionNotFound), errors.Is(err, collections.ErrRecordNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &rerr),
		errors.Is(err, collections.ErrOwnerNotFound):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func recordMsg(coll string, r collections.Record) *extv1.Record {
	out := &extv1.Record{Id: r.ID, Collection: coll, DataJson: r.Data, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.OwnerID != nil {
		out.OwnerId = *r.OwnerID
	}
	return out
}

func (h *hostServer) GetRecord(ctx context.Context, req *extv1.GetRecordRequest) (*extv1.Record, error) {
	recs, err := h.records()
	if err != nil {
		return nil, err
	}
	r, err := recs.GetRecord(ctx, req.Collection, req.Id)
	if err != nil {
		return nil, rpcErr(err)
	}
	return recordMsg(req.Collection, r), nil
}

func (h *hostServer) ListRecords(ctx context.Context, req *extv1.ListRecordsRequest) (*extv1.ListRecordsResponse,
	error) {
	recs, err := h.records()
	if err != nil {
		return nil, err
	}
	limit := int(req.Limit)
	if limit <= 0 || limit > collections.MaxLimit {
		limit = collections.DefaultLimit
	}
	page, err := recs.ListRecords(ctx, req.Collection, collections.ListOptions{Limit: limit,
		Offset: max(int(req.Offset), 0), Filter: req.Filter})
	if err != nil {
		return nil, rpcErr(err)
	}
	out := &extv1.ListRecordsResponse{}
	if page.Total != nil {
		out.Total = int64(*page.Total)
	}
	for _, r := range page.Records {
		out.Records = append(out.Records, recordMsg(req.Collection, r))
	}
	return out, nil
}

func (h *hostServer) CreateRecord(ctx context.Context, req *extv1.CreateRecordRequest) (*extv1.Record, error) {
	recs, err := h.records()
	if err != nil {
		return nil, err
	}
	var owner *string
	if req.OwnerId != "" {
		owner = &req.OwnerId
	}
	r, err := recs.CreateRecord(ctx, req.Collection, owner, req.DataJson)
	if err != nil {
		return nil, rpcErr(err)
	}
	return recordMsg(req.Collection, r), nil
}

func (h *hostServer) UpdateRecord(ctx context.Context, req *extv1.UpdateRecordRequest) (*extv1.Record, error) {
	recs, err := h.records()
	if err != nil {
		return nil, err
	}
	r, err := recs.UpdateRecord(ctx, req.Collection, req.Id, req.PatchJson)
	if err != nil {
		return nil, rpcErr(err)
	}
	return recordMsg(req.Collection, r), nil
}

func (h *hostServer) DeleteRecord(ctx context.Context, req *extv1.DeleteRecordRequest) (*extv1.DeleteRecordResponse,
	error) {
	recs, err := h.records()
	if err != nil {
		return nil, err
	}
	if err := recs.DeleteRecord(ctx, req.Collection, req.Id); err != nil {
		return nil, rpcErr(err)
	}
	return &extv1.DeleteRecordResponse{}, nil
}

func (h *hostServer) GetSettings(context.Context, *extv1.GetSettingsRequest) (*extv1.GetSettingsResponse, error) {
	out := &extv1.GetSettingsResponse{Values: map[string][]byte{}}
	for k, v := range h.m.SettingsOf(h.name) {
		out.Values[k] = v
	}
	return out, nil
}

func (h *hostServer) LogActivity(ctx context.Context, req *extv1.LogActivityRequest) (*extv1.LogActivityResponse,
	error) {
	if strings.TrimSpace(req.Kind) == "" {
		return nil, status.Error(codes.InvalidArgument, "kind is required")
	}
	var data map[string]any
	if len(req.DataJson) > 0 && string(req.DataJson) != "null" {
		if err := json.Unmarshal(req.DataJson, &data); err != nil {
			return nil, status.Error(codes.InvalidArgument, "data must be a JSON object")
		}
	}
	if h.m.opts.Host.Activity == nil {
		h.m.log.Info("extension activity", "extension", h.name, "kind", req.Kind, "message", req.Message)
		return &extv1.LogActivityResponse{}, nil
	}
	if err := h.m.opts.Host.Activity.Log(ctx, h.name, req.Kind, req.Message, data); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &extv1.LogActivityResponse{}, nil
}

func (h *hostServer) CallFunction(ctx context.Context, req *extv1.CallFunctionRequest) (*extv1.CallFunctionResponse,
	error) {
	if h.m.opts.Host.Functions == nil {
		return nil, status.Error(codes.Unimplemented, "function calls are not available")
	}
	payload := req.PayloadJson
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	resp, err := h.m.opts.Host.Functions.CallFunction(ctx, h.name, req.Function, payload)
	if err != nil {
		var st interface{ GRPCStatus() *status.Status }
		if errors.As(err, &st) {
			return nil, err
		}
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf("call %s: %v", req.Function, err))
	}
	return resp, nil
}

var _ extv1.HostServer = (*hostServer)(nil)
