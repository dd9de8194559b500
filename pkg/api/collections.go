package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/collections"
)

// collectionError maps domain errors of the collections package to HTTP.
func collectionError(err error) error {
	var ve *collections.ValidationError
	var se *collections.SchemaError
	var ie *collections.InputError
	switch {
	case errors.As(err, &ve):
		e := badRequest(ve.Error())
		e.Code = "validation_error"
		for _, f := range ve.Errors {
			e.Fields = append(e.Fields, FieldError{Field: f.Field, Code: f.Code, Message: f.Message})
		}
		return e
	case errors.As(err, &se):
		e := badRequest(se.Error())
		e.Code = "invalid_schema"
		if se.Field != "" {
			e.Fields = []FieldError{{Field: se.Field, Code: "schema", Message: se.Message}}
		}
		return e
	case errors.As(err, &ie):
		e := unprocessable(ie.Error())
		e.Fields = []FieldError{{Field: ie.Field, Code: "invalid", Message: ie.Message}}
		return e
	case errors.Is(err, collections.ErrCollectionExists):
		e := badRequest(err.Error())
		e.Code = "collection_exists"
		return e
	case errors.Is(err, collections.ErrCollectionNotFound), errors.Is(err, collections.ErrRecordNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error(), Cause: err}
	}
	return err
}

func (s *Server) listCollections(c *fiber.Ctx) error {
	list, err := s.collections.List(c.UserContext())
	if err != nil {
		return err
	}
	if list == nil {
		list = []collections.Collection{}
	}
	return c.JSON(list)
}

type createCollectionRequest struct {
	Name    string          `json:"name"`
	Label   string          `json:"label"`
	Schema  json.RawMessage `json:"schema"`
	Options json.RawMessage `json:"options"`
}

func (s *Server) createCollection(c *fiber.Ctx) error {
	if _, err := s.mustAdmin(c); err != nil {
		return err
	}
	var req createCollectionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Schema) == 0 || string(req.Schema) == "null" {
		e := unprocessable("schema is required")
		e.Fields = []FieldError{{Field: "schema", Code: "required", Message: "schema is required"}}
		return e
	}
	coll, err := s.collections.Create(c.UserContext(), collections.CreateInput{
		Name: req.Name, Label: req.Label, Schema: req.Schema, Options: req.Options})
	if err != nil {
		return collectionError(err)
	}
	return c.Status(http.StatusCreated).JSON(coll)
}

func (s *Server) getCollection(c *fiber.Ctx) error {
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	return c.JSON(coll)
}

func (s *Server) listRecords(c *fiber.Ctx) error {
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	who := callerOf(c)
	allowed, owner := collections.ListScope(coll.Rule("list"), collections.Caller{UserID: who.UserID, IsAdmin: who.IsAdmin})
	if !allowed {
		if !who.authenticated() {
			return unauthorized("Not authenticated")
		}
		return forbidden("Access denied")
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	order := c.Query("sort_order", "desc")
	if order != "asc" && order != "desc" {
		return unprocessable("sort_order must be asc or desc")
	}
	page, err := s.collections.ListRecords(c.UserContext(), coll.Name, collections.ListOptions{
		Limit: limit, Offset: offset, SortBy: c.Query("sort_by"), SortOrder: order, OwnerID: owner})
	if err != nil {
		return collectionError(err)
	}
	if page.Records == nil {
		page.Records = []collections.Record{}
	}
	return c.JSON(fiber.Map{"records": page.Records, "total": page.Total, "limit": page.Limit, "offset": page.Offset})
}

type recordRequest struct {
	Data json.RawMessage `json:"data"`
}

func (s *Server) createRecord(c *fiber.Ctx) error {
	who, err := s.requireUser(c)
	if err != nil {
		return err
	}
	var req recordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	if !collections.Allowed(coll.Rule("create"), collections.Caller{UserID: who.UserID, IsAdmin: who.IsAdmin}, nil) {
		return forbidden("Access denied")
	}
	if len(req.Data) == 0 || req.Data[0] != '{' {
		e := unprocessable("data must be a JSON object")
		e.Fields = []FieldError{{Field: "data", Code: "type", Message: "data must be a JSON object"}}
		return e
	}
	owner := who.UserID
	rec, err := s.collections.CreateRecord(c.UserContext(), coll.Name, &owner, req.Data)
	if err != nil {
		return collectionError(err)
	}
	return c.Status(http.StatusCreated).JSON(rec)
}

func (s *Server) getRecord(c *fiber.Ctx) error {
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	rec, err := s.collections.GetRecord(c.UserContext(), coll.Name, c.Params("id"))
	if err != nil {
		return collectionError(err)
	}
	who := callerOf(c)
	if !collections.Allowed(coll.Rule("read"), collections.Caller{UserID: who.UserID, IsAdmin: who.IsAdmin}, rec.OwnerID) {
		return forbidden("Access denied")
	}
	return c.JSON(rec)
}

// intQuery reads an integer query parameter within [lo, hi].
func intQuery(c *fiber.Ctx, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		e := unprocessable(name + " must be an integer between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi))
		e.Fields = []FieldError{{Field: name, Code: "range", Message: e.Message}}
		return 0, e
	}
	return n, nil
}
