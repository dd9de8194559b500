package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/apptokens"
)

// tokenError maps errors of the apptokens package to HTTP.
func tokenError(err error, id string) error {
	var ie *apptokens.InputError
	switch {
	case errors.As(err, &ie):
		return withField(unprocessable(ie.Error()), ie.Field, "invalid")
	case errors.Is(err, apptokens.ErrNotFound):
		return notFound(fmt.Sprintf("Application token '%s' not found", id))
	}
	return err
}

func (s *Server) listAppTokens(c *fiber.Ctx) error {
	list, err := s.acct.tokens.List(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"tokens": list})
}

// createAppToken makes a token acting for the calling admin. Only a
// person's session may do this, so a leaked token cannot mint more.
func (s *Server) createAppToken(c *fiber.Ctx) error {
	who, err := s.requireSession(c)
	if err != nil {
		return err
	}
	var req struct {
		Name        string   `json:"name"`
		Description *string  `json:"description"`
		Scopes      []string `json:"scopes"`
		ExpiresDays *int     `json:"expires_days"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, raw, err := s.acct.tokens.Create(c.UserContext(), apptokens.CreateInput{Name: req.Name,
		Description: req.Description, Scopes: req.Scopes, ExpiresDays: req.ExpiresDays, UserID: who.UserID})
	if err != nil {
		return tokenError(err, "")
	}
	s.log.Info("application token created", "token_id", t.ID, "scopes", t.Scopes, "by", who.UserID)
	return c.Status(http.StatusCreated).JSON(fiber.Map{"token": t, "token_value": raw})
}

func (s *Server) updateAppToken(c *fiber.Ctx) error {
	if _, err := s.requireSession(c); err != nil {
		return err
	}
	id := c.Params("id")
	var req struct {
		Name        *string   `json:"name"`
		Description *string   `json:"description"`
		IsActive    *bool     `json:"is_active"`
		Scopes      *[]string `json:"scopes"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.acct.tokens.Update(c.UserContext(), id, apptokens.Patch{Name: req.Name,
		Description: req.Description, IsActive: req.IsActive, Scopes: req.Scopes})
	if err != nil {
		return tokenError(err, id)
	}
	return c.JSON(t)
}

func (s *Server) deleteAppToken(c *fiber.Ctx) error {
	if _, err := s.requireSession(c); err != nil {
		return err
	}
	id := c.Params("id")
	if err := s.acct.tokens.Delete(c.UserContext(), id); err != nil {
		return tokenError(err, id)
	}
	return c.SendStatus(http.StatusNoContent)
}
