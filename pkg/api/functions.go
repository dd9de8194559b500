package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/functions"
)

type functionInfo struct {
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Auth        string   `json:"auth"`
	Tags        []string `json:"tags"`
}

func infoOf(m functions.Meta) functionInfo {
	fi := functionInfo{Name: m.Name, Auth: m.Auth, Tags: m.Tags}
	if m.Description != "" {
		d := m.Description
		fi.Description = &d
	}
	if fi.Tags == nil {
		fi.Tags = []string{}
	}
	return fi
}

func (s *Server) listFunctions(c *fiber.Ctx) error {
	who := callerOf(c)
	out := []functionInfo{}
	for _, m := range s.registry.Visible(who.authenticated(), who.IsAdmin) {
		out = append(out, infoOf(m))
	}
	return c.JSON(out)
}

func (s *Server) adminListFunctions(c *fiber.Ctx) error {
	if _, err := s.mustAdmin(c); err != nil {
		return err
	}
	type adminInfo struct {
		functionInfo
		File           string `json:"file_path"`
		Digest         string `json:"digest"`
		LastLoadedAt   string `json:"last_loaded_at"`
		HasInputModel  bool   `json:"has_input_model"`
		HasOutputModel bool   `json:"has_output_model"`
		VersionID      string `json:"version_id"`
		// Error says why a file in the functions folder is not callable.
		Error *string `json:"error"`
	}
	out := []adminInfo{}
	for _, m := range s.registry.List() {
		out = append(out, adminInfo{functionInfo: infoOf(m), File: m.File, Digest: m.Digest,
			LastLoadedAt: m.UpdatedAt, HasInputModel: hasSchema(m.InputSchema),
			HasOutputModel: hasSchema(m.OutputSchema),
			VersionID:      m.VersionID})
	}
	if s.publisher != nil {
		for _, m := range s.publisher.Broken() {
			e := m.Error
			m.Name = strings.TrimSuffix(m.File, ".py")
			out = append(out, adminInfo{functionInfo: infoOf(m), File: m.File, Digest: m.Digest,
				LastLoadedAt: m.UpdatedAt, Error: &e})
		}
	}
	return c.JSON(out)
}

func hasSchema(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// lookupCallable finds a function and checks the caller may use it.
func (s *Server) lookupCallable(c *fiber.Ctx) (functions.Meta, caller, error) {
	name := c.Params("name")
	who := callerOf(c)
	m, ok := s.registry.Get(name)
	if !ok {
		return m, who, notFound(fmt.Sprintf("Function '%s' not found", name))
	}
	switch err := functions.CanCall(m.Auth, who.authenticated(), who.IsAdmin); {
	case errors.Is(err, functions.ErrAuthRequired):
		return m, who, unauthorized("Authentication required")
	case errors.Is(err, functions.ErrAdminRequired):
		return m, who, forbidden("Admin access required")
	case err != nil:
		return m, who, err
	}
	return m, who, nil
}

func (s *Server) functionSchema(c *fiber.Ctx) error {
	m, _, err := s.lookupCallable(c)
	if err != nil {
		return err
	}
	schema := func(raw json.RawMessage) json.RawMessage {
		if !hasSchema(raw) {
			return json.RawMessage("null")
		}
		return raw
	}
	return c.JSON(fiber.Map{"name": m.Name, "has_input_model": hasSchema(m.InputSchema),
		"has_output_model": hasSchema(m.OutputSchema), "input_schema": schema(m.InputSchema),
		"output_schema": schema(m.OutputSchema)})
}

func (s *Server) callFunction(c *fiber.Ctx) error {
	payload := bytes.TrimSpace(c.Body())
	if len(payload) == 0 || string(payload) == "null" {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return unprocessable("Request body must be valid JSON")
	}
	if payload[0] != '{' {
		return unprocessable("Request body must be a JSON object")
	}
	m, who, err := s.lookupCallable(c)
	if err != nil {
		return err
	}
	if max := s.cfg.Functions.MaxPayloadBytes; len(payload) > max {
		return newError(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("Payload exceeds maximum size of %d bytes", max))
	}
	if errs, err := functions.ValidateInput(m.InputSchema, payload); err != nil {
		s.log.Warn("input schema unusable; payload not checked", "function", m.Name, "error", err)
	} else if len(errs) > 0 {
		return inputSchemaError("Payload", "", m.Name, errs)
	}
	if !s.dispatch.anyWorker() {
		e := newError(http.StatusServiceUnavailable, "no_workers",
			"No worker is available to run functions; start one with `tinybase worker`")
		e.Headers = map[string]string{"Retry-After": "5"}
		return e
	}
	in := callInput{Meta: m, UserID: who.UserID, IsAdmin: who.IsAdmin, Payload: payload,
		TriggerType: calls.TriggerManual}
	async := false
	// The spellings FastAPI accepts for a boolean, as the reference does.
	switch strings.ToLower(c.Query("async")) {
	case "", "false", "0", "no", "off":
	case "true", "1", "yes", "on":
		async = true
	default:
		e := unprocessable("async must be true or false")
		e.Fields = []FieldError{{Field: "async", Code: "type", Message: "must be true or false"}}
		return e
	}
	if async {
		in.KeepResult = true
		id, err := s.dispatch.enqueue(c.UserContext(), in)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderLocation, "/api/functions/calls/"+id)
		return c.Status(http.StatusAccepted).JSON(fiber.Map{"call_id": id, "status": calls.StatusRunning})
	}
	res, err := s.dispatch.call(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// getOwnCall shows a call, with its result when it was made async, to the
// user who made it (or an admin). An anonymous call has no owner: its
// unguessable id is what grants access, as a link would.
func (s *Server) getOwnCall(c *fiber.Ctx) error {
	s.dispatch.awaitRecorded(c.UserContext(), c.Params("id"))
	d, err := s.calls.GetDetail(c.UserContext(), c.Params("id"))
	notFoundErr := notFound(fmt.Sprintf("Function call '%s' not found", c.Params("id")))
	if errors.Is(err, calls.ErrCallNotFound) {
		return notFoundErr
	}
	if err != nil {
		return err
	}
	who := callerOf(c)
	if d.RequestedByUserID != nil && !who.IsAdmin && who.UserID != *d.RequestedByUserID {
		return notFoundErr
	}
	if d.RequestedByUserID == nil && d.TriggerType != calls.TriggerManual && !who.IsAdmin {
		return notFoundErr
	}
	if !who.IsAdmin {
		d.Stderr = nil // function logs are for admins
	}
	return c.JSON(d)
}

func (s *Server) listCalls(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	f := calls.Filter{FunctionName: c.Query("function_name"), Status: c.Query("status"),
		TriggerType: c.Query("trigger_type"), TriggerID: c.Query("trigger_id"), Limit: limit, Offset: offset}
	switch f.Status {
	case "", "running", "succeeded", "failed":
	default:
		return unprocessable("status must be running, succeeded or failed")
	}
	switch f.TriggerType {
	case "", "manual", "schedule":
	default:
		return unprocessable("trigger_type must be manual or schedule")
	}
	list, total, err := s.calls.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	// A running call on the page may already have been answered: read the
	// page again once its outcome is committed.
	var running []string
	for _, call := range list {
		if call.Status == calls.StatusRunning {
			running = append(running, call.ID)
		}
	}
	if s.dispatch.awaitRecorded(c.UserContext(), running...) {
		if list, total, err = s.calls.List(c.UserContext(), f); err != nil {
			return err
		}
	}
	if list == nil {
		list = []calls.Call{}
	}
	return c.JSON(fiber.Map{"calls": list, "total": total, "limit": limit, "offset": offset})
}

func (s *Server) getCall(c *fiber.Ctx) error {
	s.dispatch.awaitRecorded(c.UserContext(), c.Params("id"))
	call, err := s.calls.GetDetail(c.UserContext(), c.Params("id"))
	if errors.Is(err, calls.ErrCallNotFound) {
		return notFound(fmt.Sprintf("Function call '%s' not found", c.Params("id")))
	}
	if err != nil {
		return err
	}
	return c.JSON(call)
}

// inputSchemaError is the 422 for a payload its function's input schema
// refuses: what names the payload in the message, and each field error is
// reported under prefix ("input_data.x" for a schedule's input).
func inputSchemaError(what, prefix, function string, errs []functions.FieldError) *Error {
	e := unprocessable(fmt.Sprintf("%s does not match the input schema of '%s': %s %s",
		what, function, errs[0].Field, errs[0].Message))
	e.Code = "validation_error"
	for _, fe := range errs {
		field := fe.Field
		if prefix != "" {
			field = prefix
			if fe.Field != "" && fe.Field != "(payload)" {
				field += "." + fe.Field
			}
		}
		e.Fields = append(e.Fields, FieldError{Field: field, Code: fe.Code, Message: fe.Message})
	}
	return e
}
