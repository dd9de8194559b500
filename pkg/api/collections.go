package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/collections"
)

// collectionRoutes mounts collections, records and their health checks.
func (s *Server) collectionRoutes(api fiber.Router) {
	c := api.Group("/collections")
	c.Get("/", s.listCollections)
	c.Post("/", s.createCollection)
	c.Get("/:name", s.getCollection)
	c.Patch("/:name", s.updateCollection)
	c.Delete("/:name", s.deleteCollection)
	c.Get("/:name/records", s.listRecords)
	c.Post("/:name/records", s.createRecord)
	c.Get("/:name/records/:id", s.getRecord)
	c.Patch("/:name/records/:id", s.updateRecord)
	c.Delete("/:name/records/:id", s.deleteRecord)

	api.Get("/admin/collections/status", s.requireAdmin, s.collectionsHealth)
	api.Get("/admin/collections/:name/status", s.requireAdmin, s.collectionStatus)
}

// collectionError maps domain errors of the collections package to HTTP.
func collectionError(err error) error {
	var (
		ve *collections.ValidationError
		se *collections.SchemaError
		ie *collections.InputError
		ue *collections.UniqueError
		re *collections.ReferencedError
	)
	switch {
	case errors.As(err, &ve):
		e := badRequest(ve.Error())
		e.Code = "validation_error"
		e.Fields = fieldErrors(ve.Errors)
		return e
	case errors.As(err, &se):
		e := badRequest(se.Error())
		e.Code = "invalid_schema"
		if se.Field != "" {
			e.Fields = []FieldError{{Field: se.Field, Code: "schema", Message: se.Message}}
		}
		return e
	case errors.As(err, &ue):
		e := newError(http.StatusConflict, "conflict", ue.Error())
		if ue.SchemaChange() {
			e.Code = "duplicate_values"
		}
		e.Fields = fieldErrors(ue.Errors)
		return e
	case errors.As(err, &re):
		e := newError(http.StatusConflict, "referenced", re.Error())
		e.Fields = fieldErrors(re.Errors)
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
	case errors.Is(err, collections.ErrOwnerNotFound):
		// The token's user was deleted after it was issued.
		return unauthorized("Not authenticated")
	}
	return err
}

func fieldErrors(in []collections.FieldError) []FieldError {
	out := make([]FieldError, 0, len(in))
	for _, f := range in {
		out = append(out, FieldError{Field: f.Field, Code: f.Code, Message: f.Message})
	}
	return out
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

type updateCollectionRequest struct {
	Label   *string         `json:"label"`
	Schema  json.RawMessage `json:"schema"`
	Options json.RawMessage `json:"options"`
}

func (s *Server) updateCollection(c *fiber.Ctx) error {
	if _, err := s.mustAdmin(c); err != nil {
		return err
	}
	var req updateCollectionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Schema) > 0 && req.Schema[0] != '{' && string(req.Schema) != "null" {
		e := unprocessable("schema must be a JSON object")
		e.Fields = []FieldError{{Field: "schema", Code: "type", Message: e.Message}}
		return e
	}
	coll, err := s.collections.Update(c.UserContext(), c.Params("name"), collections.UpdateInput{
		Label: req.Label, Schema: req.Schema, Options: req.Options})
	if err != nil {
		return collectionError(err)
	}
	return c.JSON(coll)
}

func (s *Server) deleteCollection(c *fiber.Ctx) error {
	if _, err := s.mustAdmin(c); err != nil {
		return err
	}
	if err := s.collections.Delete(c.UserContext(), c.Params("name")); err != nil {
		return collectionError(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (s *Server) collectionsHealth(c *fiber.Ctx) error {
	h, err := s.collections.Health(c.UserContext())
	if err != nil {
		return collectionError(err)
	}
	return c.JSON(h)
}

func (s *Server) collectionStatus(c *fiber.Ctx) error {
	st, err := s.collections.Status(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	return c.JSON(st)
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

// boolQuery reads a boolean query parameter: true/false, 1/0, yes/no.
func boolQuery(c *fiber.Ctx, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false", "0", "no":
		return false, nil
	case "true", "1", "yes":
		return true, nil
	}
	e := unprocessable(name + " must be true or false")
	e.Fields = []FieldError{{Field: name, Code: "type", Message: e.Message}}
	return false, e
}
