package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/users"
)

// pageParams reads limit (1–1000, default 100) and offset (≥ 0).
func pageParams(c *fiber.Ctx) (limit, offset int, err error) {
	read := func(name string, def, lo, hi int) (int, error) {
		raw := c.Query(name)
		if raw == "" {
			return def, nil
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < lo || n > hi {
			return 0, withField(unprocessable(name+" must be an integer between "+strconv.Itoa(lo)+" and "+
				strconv.Itoa(hi)), name, "range")
		}
		return n, nil
	}
	if limit, err = read("limit", 100, 1, 1000); err != nil {
		return 0, 0, err
	}
	offset, err = read("offset", 0, 0, 1<<31-1)
	return limit, offset, err
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	limit, offset, err := pageParams(c)
	if err != nil {
		return err
	}
	p, err := s.users.List(c.UserContext(), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"users": p.Users, "total": p.Total, "limit": p.Limit, "offset": p.Offset})
}

type userRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
	IsAdmin  *bool   `json:"is_admin"`
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var req userRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Email == nil || req.Password == nil {
		return unprocessable("email and password are required")
	}
	u, err := s.users.Create(c.UserContext(), *req.Email, *req.Password, req.IsAdmin != nil && *req.IsAdmin)
	if err != nil {
		return userError(err, "")
	}
	return c.Status(http.StatusCreated).JSON(u)
}

func (s *Server) getUser(c *fiber.Ctx) error {
	id := c.Params("id")
	u, err := s.users.Get(c.UserContext(), id)
	if err != nil {
		return userError(err, id)
	}
	return c.JSON(u)
}

// updateUser changes email, password or role. A new password ends the
// user's sessions; the last admin cannot be demoted.
func (s *Server) updateUser(c *fiber.Ctx) error {
	id := c.Params("id")
	var req userRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.users.Update(c.UserContext(), id, users.Patch{Email: req.Email, Password: req.Password,
		IsAdmin: req.IsAdmin})
	if errors.Is(err, users.ErrLastAdmin) {
		return lastAdmin("Cannot demote the last admin user")
	}
	if err != nil {
		return userError(err, id)
	}
	return c.JSON(u)
}

// deleteUser removes an account. Its records and function calls stay,
// without owner; its sessions, reset tokens and application tokens go.
func (s *Server) deleteUser(c *fiber.Ctx) error {
	who := callerOf(c)
	id := c.Params("id")
	if id == who.UserID {
		return badRequest("Cannot delete your own account")
	}
	err := s.users.Delete(c.UserContext(), id)
	if errors.Is(err, users.ErrLastAdmin) {
		return lastAdmin("Cannot delete the last admin user")
	}
	if err != nil {
		return userError(err, id)
	}
	s.acct.tokens.ForgetUser(id)
	s.log.Info("user deleted", "user_id", id, "by", who.UserID)
	return c.SendStatus(http.StatusNoContent)
}

func lastAdmin(msg string) *Error {
	e := badRequest(msg)
	e.Code = "last_admin"
	return e
}
