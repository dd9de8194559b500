package api

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/users"
)

// caller is who made the request; the zero value is anonymous.
type caller struct {
	UserID  string
	IsAdmin bool
}

func (c caller) authenticated() bool { return c.UserID != "" }

const callerKey = "tb.caller"

// authenticate resolves a bearer token into a caller. A missing or bad
// token means anonymous here; routes that need a user answer 401 later.
// Access tokens and call tokens (held by function processes, acting as
// their caller) are accepted; refresh tokens are not.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
		// TODO(revocation): consult the in-memory revocation view here.
		if cl, err := s.issuer.Verify(strings.TrimSpace(token), auth.Access, auth.Call); err == nil && cl.Subject != "" {
			c.Locals(callerKey, caller{UserID: cl.Subject, IsAdmin: cl.IsAdmin})
		}
	}
	return c.Next()
}

func callerOf(c *fiber.Ctx) caller {
	v, _ := c.Locals(callerKey).(caller)
	return v
}

func (s *Server) requireUser(c *fiber.Ctx) (caller, error) {
	who := callerOf(c)
	if !who.authenticated() {
		return who, unauthorized("Not authenticated")
	}
	return who, nil
}

func (s *Server) mustAdmin(c *fiber.Ctx) (caller, error) {
	who, err := s.requireUser(c)
	if err != nil {
		return who, err
	}
	if !who.IsAdmin {
		return who, forbidden("Admin access required")
	}
	return who, nil
}

// requireAdmin is middleware for route groups that only admins may use.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if _, err := s.mustAdmin(c); err != nil {
		return err
	}
	return c.Next()
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
	Email        string `json:"email"`
	IsAdmin      bool   `json:"is_admin"`
	AdminCreated bool   `json:"admin_created"`
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Email == "" || req.Password == "" {
		return unprocessable("email and password are required")
	}
	u, err := s.users.Authenticate(c.UserContext(), req.Email, req.Password)
	if err != nil {
		if errors.Is(err, users.ErrInvalidCredentials) || errors.Is(err, users.ErrInvalidEmail) ||
			errors.Is(err, auth.ErrPasswordTooLong) {
			return unauthorized("Invalid email or password")
		}
		return err
	}
	pair, err := s.issuer.IssuePair(u.ID, u.IsAdmin)
	if err != nil {
		return err
	}
	return c.JSON(loginResponse{AccessToken: pair.Access, RefreshToken: pair.Refresh, TokenType: "bearer",
		UserID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin})
}

func (s *Server) me(c *fiber.Ctx) error {
	who, err := s.requireUser(c)
	if err != nil {
		return err
	}
	u, err := s.users.Get(c.UserContext(), who.UserID)
	if errors.Is(err, users.ErrNotFound) {
		return unauthorized("Not authenticated")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": u.ID, "email": u.Email, "is_admin": u.IsAdmin, "created_at": u.CreatedAt})
}
