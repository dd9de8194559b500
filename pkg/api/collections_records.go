package api

import (
	"encoding/json"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/collections"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

func (who caller) collectionsCaller() collections.Caller {
	return collections.Caller{UserID: who.UserID, IsAdmin: who.IsAdmin}
}

// recordID reads the record id path parameter, which must be a UUID (422
// otherwise, as in TinyBase), in its canonical form.
func recordID(c *fiber.Ctx) (string, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		e := unprocessable("record_id must be a UUID")
		e.Fields = []FieldError{{Field: "record_id", Code: "uuid", Message: e.Message}}
		return "", e
	}
	return id.String(), nil
}

func (s *Server) listRecords(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", collections.DefaultLimit, 1, collections.MaxLimit)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	order := c.Query("sort_order", "desc")
	if order != "asc" && order != "desc" {
		e := unprocessable("sort_order must be asc or desc")
		e.Fields = []FieldError{{Field: "sort_order", Code: "enum", Message: e.Message}}
		return e
	}
	skipTotal, err := boolQuery(c, "skip_total")
	if err != nil {
		return err
	}
	if len(c.Query("filter")) > collections.MaxFilterLength {
		e := unprocessable("filter is too long")
		e.Fields = []FieldError{{Field: "filter", Code: "length", Message: e.Message}}
		return e
	}
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	who := callerOf(c)
	allowed, owner := collections.ListScope(coll.Rule(collections.ActionList), who.collectionsCaller())
	if !allowed {
		if !who.authenticated() {
			return unauthorized("Not authenticated")
		}
		return forbidden("Access denied")
	}
	page, err := s.collections.ListRecords(c.UserContext(), coll.Name, collections.ListOptions{
		Limit: limit, Offset: offset, SortBy: c.Query("sort_by"), SortOrder: order, OwnerID: owner,
		Filter: c.Query("filter"), After: c.Query("after"), SkipTotal: skipTotal})
	if err != nil {
		return collectionError(err)
	}
	return c.JSON(page)
}

type recordRequest struct {
	Data json.RawMessage `json:"data"`
}

// recordData decodes {"data": {...}}, answering 422 when data is not an
// object.
func recordData(c *fiber.Ctx) (json.RawMessage, error) {
	var req recordRequest
	if err := decodeJSON(c, &req); err != nil {
		return nil, err
	}
	if len(req.Data) == 0 || req.Data[0] != '{' {
		e := unprocessable("data must be a JSON object")
		e.Fields = []FieldError{{Field: "data", Code: "type", Message: "data must be a JSON object"}}
		return nil, e
	}
	return req.Data, nil
}

func (s *Server) createRecord(c *fiber.Ctx) error {
	who, err := s.requireUser(c)
	if err != nil {
		return err
	}
	data, err := recordData(c)
	if err != nil {
		return err
	}
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	if !collections.Allowed(coll.Rule(collections.ActionCreate), who.collectionsCaller(), nil) {
		return forbidden("Access denied")
	}
	if data, err = s.beforeRecord(c, extv1.Hook_HOOK_RECORD_BEFORE_CREATE, coll.Name, nil, who, data); err != nil {
		return err
	}
	owner := who.UserID
	rec, err := s.collections.CreateRecord(c.UserContext(), coll.Name, &owner, data)
	if err != nil {
		return collectionError(err)
	}
	s.events.emit(Event{Kind: EventRecordCreated, ActorID: who.UserID, Subject: coll.Name + "/" + rec.ID,
		Data:  map[string]any{"collection": coll.Name, "record_id": rec.ID},
		Extra: recordExtra(rec.Data, nil, rec.OwnerID)})
	return c.Status(http.StatusCreated).JSON(rec)
}

func (s *Server) getRecord(c *fiber.Ctx) error {
	id, err := recordID(c)
	if err != nil {
		return err
	}
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return collectionError(err)
	}
	rec, err := s.collections.GetRecord(c.UserContext(), coll.Name, id)
	if err != nil {
		return collectionError(err)
	}
	if !collections.Allowed(coll.Rule(collections.ActionRead), callerOf(c).collectionsCaller(), rec.OwnerID) {
		return forbidden("Access denied")
	}
	return c.JSON(rec)
}

// ownedRecord resolves the collection and record of a PATCH or DELETE and
// applies the action's rule: 404 before 403, as in TinyBase. A record's
// owner never changes, so the check cannot go stale before the write.
func (s *Server) ownedRecord(c *fiber.Ctx, who caller, id, action, denied string) (collections.Collection,
	collections.Record, error) {
	coll, err := s.collections.Get(c.UserContext(), c.Params("name"))
	if err != nil {
		return coll, collections.Record{}, collectionError(err)
	}
	rec, err := s.collections.GetRecord(c.UserContext(), coll.Name, id)
	if err != nil {
		return coll, rec, collectionError(err)
	}
	if !collections.Allowed(coll.Rule(action), who.collectionsCaller(), rec.OwnerID) {
		return coll, rec, forbidden(denied)
	}
	return coll, rec, nil
}

// recordExtra is what record events carry for extension after-hooks.
func recordExtra(data, old json.RawMessage, owner *string) map[string]any {
	m := map[string]any{}
	if data != nil {
		m["data"] = data
	}
	if old != nil {
		m["old_data"] = old
	}
	if owner != nil {
		m["owner_id"] = *owner
	}
	return m
}

func (s *Server) updateRecord(c *fiber.Ctx) error {
	who, err := s.requireUser(c)
	if err != nil {
		return err
	}
	id, err := recordID(c)
	if err != nil {
		return err
	}
	data, err := recordData(c)
	if err != nil {
		return err
	}
	coll, old, err := s.ownedRecord(c, who, id, collections.ActionUpdate,
		"You don't have permission to update this record")
	if err != nil {
		return err
	}
	if data, err = s.beforeRecord(c, extv1.Hook_HOOK_RECORD_BEFORE_UPDATE, coll.Name, &old, who, data); err != nil {
		return err
	}
	rec, err := s.collections.UpdateRecord(c.UserContext(), coll.Name, id, data)
	if err != nil {
		return collectionError(err)
	}
	s.events.emit(Event{Kind: EventRecordUpdated, ActorID: who.UserID, Subject: coll.Name + "/" + id,
		Data:  map[string]any{"collection": coll.Name, "record_id": id},
		Extra: recordExtra(rec.Data, old.Data, rec.OwnerID)})
	return c.JSON(rec)
}

func (s *Server) deleteRecord(c *fiber.Ctx) error {
	who, err := s.requireUser(c)
	if err != nil {
		return err
	}
	id, err := recordID(c)
	if err != nil {
		return err
	}
	coll, old, err := s.ownedRecord(c, who, id, collections.ActionDelete,
		"You don't have permission to delete this record")
	if err != nil {
		return err
	}
	if _, err := s.beforeRecord(c, extv1.Hook_HOOK_RECORD_BEFORE_DELETE, coll.Name, &old, who, nil); err != nil {
		return err
	}
	if err := s.collections.DeleteRecord(c.UserContext(), coll.Name, id); err != nil {
		return collectionError(err)
	}
	s.events.emit(Event{Kind: EventRecordDeleted, ActorID: who.UserID, Subject: coll.Name + "/" + id,
		Data:  map[string]any{"collection": coll.Name, "record_id": id},
		Extra: recordExtra(old.Data, nil, old.OwnerID)})
	return c.SendStatus(http.StatusNoContent)
}
