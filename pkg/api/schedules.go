package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/schedule"
	"github.com/tinybase/tinybase/pkg/schedule/schedstore"
)

// Preview limits.
const (
	defaultPreviewCount = 5
	maxPreviewCount     = 1000
)

// scheduleRoutes serves /api/admin/schedules (all admin).
func (s *Server) scheduleRoutes(api fiber.Router) {
	g := api.Group("/admin/schedules", s.requireAdmin)
	g.Get("/", s.listSchedules)
	g.Post("/", s.createSchedule)
	g.Post("/preview", s.previewSpec)
	g.Get("/:id", s.getSchedule)
	g.Patch("/:id", s.patchSchedule)
	g.Delete("/:id", s.deleteSchedule)
	g.Post("/:id/run", s.runSchedule)
	g.Get("/:id/preview", s.previewSchedule)
}

// specError turns an invalid specification into the reference's 400.
func specError(err error) error {
	var se *schedule.SpecError
	if !errors.As(err, &se) {
		return err
	}
	e := badRequest("Invalid schedule configuration: " + se.Reason)
	e.Code = "invalid_schedule"
	e.Fields = []FieldError{{Field: "schedule." + se.Field, Code: "invalid", Message: se.Reason}}
	e.Cause = err
	return e
}

func fieldError(field, msg string) error {
	e := unprocessable(msg)
	e.Fields = []FieldError{{Field: field, Code: "invalid", Message: msg}}
	return e
}

// scheduleBody is a create or patch request; absent and null keys are nil.
type scheduleBody struct {
	Name         *string
	FunctionName *string
	Spec         json.RawMessage
	InputData    json.RawMessage
	IsActive     *bool
}

func parseScheduleBody(c *fiber.Ctx) (scheduleBody, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(c, &raw); err != nil {
		return scheduleBody{}, err
	}
	if raw == nil {
		return scheduleBody{}, unprocessable("Request body must be a JSON object")
	}
	var b scheduleBody
	present := func(k string) (json.RawMessage, bool) {
		v, ok := raw[k]
		return v, ok && string(v) != "null"
	}
	if v, ok := present("name"); ok {
		var n string
		if json.Unmarshal(v, &n) != nil {
			return b, fieldError("name", "name must be a string")
		}
		b.Name = &n
	}
	if v, ok := present("function_name"); ok {
		var n string
		if json.Unmarshal(v, &n) != nil {
			return b, fieldError("function_name", "function_name must be a string")
		}
		b.FunctionName = &n
	}
	if v, ok := present("schedule"); ok {
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
			return b, fieldError("schedule", "schedule must be a JSON object")
		}
		b.Spec = v
	}
	if v, ok := present("input_data"); ok {
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
			return b, fieldError("input_data", "input_data must be a JSON object")
		}
		b.InputData = v
	}
	if v, ok := present("is_active"); ok {
		var a bool
		if json.Unmarshal(v, &a) != nil {
			return b, fieldError("is_active", "is_active must be a boolean")
		}
		b.IsActive = &a
	}
	return b, nil
}

func (s *Server) listSchedules(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", schedstore.DefaultListLimit, 1, schedstore.MaxListLimit)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	f := schedstore.Filter{FunctionName: c.Query("function_name"), Limit: limit, Offset: offset}
	if v := c.Query("is_active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fieldError("is_active", "is_active must be true or false")
		}
		f.IsActive = &b
	}
	list, total, err := s.sched.store.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"schedules": list, "total": total, "limit": limit, "offset": offset})
}

func (s *Server) createSchedule(c *fiber.Ctx) error {
	who := callerOf(c)
	b, err := parseScheduleBody(c)
	if err != nil {
		return err
	}
	switch {
	case b.Name == nil:
		return fieldError("name", "name is required")
	case *b.Name == "" || utf8.RuneCountInString(*b.Name) > schedstore.MaxNameLen:
		return fieldError("name", fmt.Sprintf("name must be 1 to %d characters", schedstore.MaxNameLen))
	case b.FunctionName == nil:
		return fieldError("function_name", "function_name is required")
	case b.Spec == nil:
		return fieldError("schedule", "schedule is required")
	}
	m, ok := s.registry.Get(*b.FunctionName)
	if !ok {
		return badRequest(fmt.Sprintf("Function '%s' not found", *b.FunctionName))
	}
	if err := s.checkScheduleInput(m, b.InputData); err != nil {
		return err
	}
	active := true
	if b.IsActive != nil {
		active = *b.IsActive
	}
	sc, err := s.sched.store.Create(c.UserContext(), schedstore.New{Name: *b.Name, FunctionName: *b.FunctionName,
		Spec: b.Spec, InputData: b.InputData, IsActive: active, CreatedBy: who.UserID}, s.sched.publishEvent("created"))
	if err != nil {
		return specError(err)
	}
	return c.Status(http.StatusCreated).JSON(sc)
}

// scheduleOf loads the schedule named in the path: 422 for an id that is
// not a UUID, 404 when there is none.
func (s *Server) scheduleOf(c *fiber.Ctx) (schedstore.Schedule, error) {
	id := c.Params("id")
	if _, err := uuid.Parse(id); err != nil {
		return schedstore.Schedule{}, fieldError("schedule_id", "schedule_id must be a UUID")
	}
	sc, err := s.sched.store.Get(c.UserContext(), id)
	if errors.Is(err, schedstore.ErrNotFound) {
		return sc, notFound(fmt.Sprintf("Schedule '%s' not found", id))
	}
	return sc, err
}

func (s *Server) getSchedule(c *fiber.Ctx) error {
	sc, err := s.scheduleOf(c)
	if err != nil {
		return err
	}
	return c.JSON(sc)
}

func (s *Server) patchSchedule(c *fiber.Ctx) error {
	sc, err := s.scheduleOf(c)
	if err != nil {
		return err
	}
	b, err := parseScheduleBody(c)
	if err != nil {
		return err
	}
	if b.Name != nil && (*b.Name == "" || utf8.RuneCountInString(*b.Name) > schedstore.MaxNameLen) {
		return fieldError("name", fmt.Sprintf("name must be 1 to %d characters", schedstore.MaxNameLen))
	}
	if b.InputData != nil {
		if m, ok := s.registry.Get(sc.FunctionName); ok {
			if err := s.checkScheduleInput(m, b.InputData); err != nil {
				return err
			}
		}
	}
	updated, err := s.sched.store.Update(c.UserContext(), sc.ID, schedstore.Patch{Name: b.Name, Spec: b.Spec,
		InputData: b.InputData, IsActive: b.IsActive}, s.sched.publishEvent("updated"))
	if errors.Is(err, schedstore.ErrNotFound) {
		return notFound(fmt.Sprintf("Schedule '%s' not found", sc.ID))
	}
	if err != nil {
		return specError(err)
	}
	return c.JSON(updated)
}

func (s *Server) deleteSchedule(c *fiber.Ctx) error {
	sc, err := s.scheduleOf(c)
	if err != nil {
		return err
	}
	err = s.sched.store.Delete(c.UserContext(), sc.ID, s.sched.publishEvent("deleted"))
	if errors.Is(err, schedstore.ErrNotFound) {
		return notFound(fmt.Sprintf("Schedule '%s' not found", sc.ID))
	}
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// runSchedule queues a run now, whatever the schedule's timing, and
// answers 202 with the call id; the call is recorded like a fired one.
func (s *Server) runSchedule(c *fiber.Ctx) error {
	sc, err := s.scheduleOf(c)
	if err != nil {
		return err
	}
	m, ok := s.registry.Get(sc.FunctionName)
	if !ok {
		return badRequest(fmt.Sprintf("Function '%s' not found", sc.FunctionName))
	}
	id, err := s.dispatch.enqueue(c.UserContext(), callInput{Meta: m, Payload: sc.InputData,
		TriggerType: calls.TriggerSchedule, TriggerID: sc.ID})
	if err != nil {
		return err
	}
	if err := s.sched.store.MarkRun(c.UserContext(), sc.ID, time.Now()); err != nil {
		s.log.Warn("mark schedule run failed", "schedule_id", sc.ID, "error", err)
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"call_id": id, "status": calls.StatusRunning,
		"schedule_id": sc.ID})
}

func rfc3339All(list []time.Time) []string {
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// previewSchedule answers the next count instants of a stored schedule:
// from its stored next instant when active, else from now (or ?after=).
func (s *Server) previewSchedule(c *fiber.Ctx) error {
	sc, err := s.scheduleOf(c)
	if err != nil {
		return err
	}
	count, err := intQuery(c, "count", defaultPreviewCount, 1, maxPreviewCount)
	if err != nil {
		return err
	}
	spec, err := schedule.Parse(sc.Schedule)
	if err != nil {
		return specError(err)
	}
	after := time.Now()
	if v := c.Query("after"); v != "" {
		if after, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return fieldError("after", "after must be an RFC 3339 instant")
		}
	}
	var next []time.Time
	if first, ok := sc.NextRun(); ok && sc.IsActive && c.Query("after") == "" {
		next = append([]time.Time{first}, spec.Upcoming(first, count-1)...)
	} else {
		next = spec.Upcoming(after, count)
	}
	return c.JSON(fiber.Map{"next": rfc3339All(next)})
}

// previewSpec answers the next instants of an unsaved specification.
func (s *Server) previewSpec(c *fiber.Ctx) error {
	var body struct {
		Schedule json.RawMessage `json:"schedule"`
		After    *string         `json:"after"`
		Count    *int            `json:"count"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if t := bytes.TrimSpace(body.Schedule); len(t) == 0 || t[0] != '{' {
		return fieldError("schedule", "schedule must be a JSON object")
	}
	count := defaultPreviewCount
	if body.Count != nil {
		if *body.Count < 1 || *body.Count > maxPreviewCount {
			return fieldError("count", fmt.Sprintf("count must be between 1 and %d", maxPreviewCount))
		}
		count = *body.Count
	}
	after := time.Now()
	if body.After != nil {
		var err error
		if after, err = time.Parse(time.RFC3339Nano, *body.After); err != nil {
			return fieldError("after", "after must be an RFC 3339 instant")
		}
	}
	spec, err := schedule.Parse(body.Schedule)
	if err != nil {
		return specError(err)
	}
	return c.JSON(fiber.Map{"next": rfc3339All(spec.Upcoming(after, count))})
}

// checkScheduleInput checks a schedule's input data against its function's
// input schema, as a call's payload is checked, so a schedule that could
// only ever fail is refused when it is saved: 422 naming the fields under
// input_data.
func (s *Server) checkScheduleInput(m functions.Meta, input json.RawMessage) error {
	payload := input
	if len(bytes.TrimSpace(payload)) == 0 || string(bytes.TrimSpace(payload)) == "null" {
		payload = json.RawMessage("{}")
	}
	errs, err := functions.ValidateInput(m.InputSchema, payload)
	if err != nil || len(errs) == 0 {
		return nil // an unusable schema is not the schedule's fault; the call reports it
	}
	return inputSchemaError("input_data", "input_data", m.Name, errs)
}
