package api

import (
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/settings"
)

// settingsBody is GET /api/admin/settings: the flat keys of the Python
// TinyBase, and every key under its dotted name in "settings" (ext.* keys
// included). Secret values appear in neither.
func settingsBody(snap *settings.Snapshot) fiber.Map {
	out := fiber.Map{}
	for k, v := range snap.Legacy() {
		out[k] = v
	}
	var updated any
	if snap.UpdatedAt != "" {
		updated = snap.UpdatedAt
	}
	out["updated_at"] = updated
	out["settings"] = snap.Public()
	return out
}

func (s *Server) getSettings(c *fiber.Ctx) error {
	return c.JSON(settingsBody(s.acct.settings.Current()))
}

// updateSettings applies a partial change. Members may use flat names,
// dotted names, or sit in a "settings" object by dotted name. Nothing is
// saved unless every value is valid.
func (s *Server) updateSettings(c *fiber.Ctx) error {
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body == nil {
		return unprocessable("Request body must be a JSON object")
	}
	if nested, ok := body["settings"]; ok {
		delete(body, "settings")
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(nested, &inner); err != nil {
			return withField(unprocessable("settings must be an object"), "settings", "type")
		}
		for k, v := range inner {
			if _, dup := body[k]; dup {
				return withField(badRequest(k+": given twice"), k, "duplicate")
			}
			body[k] = v
		}
	}
	snap, keys, err := s.acct.settings.Update(c.UserContext(), body)
	var ve *settings.ValidationError
	if errors.As(err, &ve) {
		e := badRequest(ve.Error())
		e.Code = "invalid_setting"
		e.Fields = []FieldError{{Field: ve.Key, Code: "invalid", Message: ve.Err.Error()}}
		for _, more := range ve.More {
			e.Fields = append(e.Fields, FieldError{Field: more.Key, Code: "invalid", Message: more.Err.Error()})
		}
		return e
	}
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		s.log.Info("settings changed", "keys", keys, "by", callerOf(c).UserID)
		s.events.emit(Event{Kind: EventSettingsChanged, ActorID: callerOf(c).UserID, Subject: "settings",
			Data: map[string]any{"keys": keys}})
	}
	return c.JSON(settingsBody(snap))
}
