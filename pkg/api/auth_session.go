package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/users"
)

// authRoutes registers /api/auth and the admin routes for users, settings
// and application tokens.
func (s *Server) authRoutes(api fiber.Router) {
	a := api.Group("/auth")
	a.Post("/login", s.login)
	a.Post("/refresh", s.refresh)
	a.Post("/logout", s.logout)
	a.Get("/me", s.me)
	a.Patch("/me", s.updateMe)
	a.Post("/register", s.register)
	a.Post("/password-reset/request", s.requestPasswordReset)
	a.Post("/password-reset/confirm", s.confirmPasswordReset)
	a.Get("/instance-info", s.instanceInfo)
	a.Get("/setup-status", s.setupStatus)
	a.Get("/portal-config", s.portalConfig)

	u := api.Group("/admin/users", s.requireAdmin)
	u.Get("/", s.listUsers)
	u.Post("/", s.createUser)
	u.Get("/:id", s.getUser)
	u.Patch("/:id", s.updateUser)
	u.Delete("/:id", s.deleteUser)

	st := api.Group("/admin/settings", s.requireAdmin)
	st.Get("/", s.getSettings)
	st.Patch("/", s.updateSettings)

	t := api.Group("/admin/application-tokens", s.requireAdmin)
	t.Get("/", s.listAppTokens)
	t.Post("/", s.createAppToken)
	t.Patch("/:id", s.updateAppToken)
	t.Delete("/:id", s.deleteAppToken)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// loginResponse is the reference's LoginResponse, with the lifetimes
// beside it.
type loginResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
	Email        string `json:"email"`
	IsAdmin      bool   `json:"is_admin"`
	AdminCreated bool   `json:"admin_created"`
	// ExpiresIn and RefreshExpiresIn are the tokens' lifetimes in seconds.
	ExpiresIn        int64 `json:"expires_in"`
	RefreshExpiresIn int64 `json:"refresh_expires_in"`
}

func (s *Server) login(c *fiber.Ctx) error {
	if err := s.limit(c, s.acct.limits.login); err != nil {
		return err
	}
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
	resp, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	s.events.emit(Event{Kind: EventUserLogin, ActorID: u.ID, Subject: u.ID, Data: map[string]any{"ip": s.clientIP(c)}})
	return c.JSON(resp)
}

// startSession records a new login session for u and issues its tokens.
func (s *Server) startSession(c *fiber.Ctx, u users.User) (loginResponse, error) {
	admin := s.users.IsAdmin(u.ID)
	pair, err := s.issuer.IssuePair(u.ID, admin, uuid.NewString())
	if err != nil {
		return loginResponse{}, err
	}
	err = s.users.StartSession(c.UserContext(), users.Session{ID: pair.SessionID, UserID: u.ID,
		RefreshID: pair.RefreshID, Expires: pair.RefreshExpires})
	if errors.Is(err, users.ErrNotFound) {
		return loginResponse{}, unauthorized("Invalid email or password")
	}
	if err != nil {
		return loginResponse{}, err
	}
	return s.pairResponse(pair, u.ID, u.Email, admin), nil
}

func (s *Server) pairResponse(p auth.Pair, id, email string, admin bool) loginResponse {
	return loginResponse{AccessToken: p.Access, RefreshToken: p.Refresh, TokenType: "bearer", UserID: id,
		Email: email, IsAdmin: admin, ExpiresIn: int64(s.issuer.AccessTTL().Seconds()),
		RefreshExpiresIn: int64(s.issuer.RefreshTTL().Seconds())}
}

// refresh exchanges a refresh token (as the bearer token, as the Python
// TinyBase expects, or as {"refresh_token"} in the body) for a new pair.
// The presented token is spent; presenting it again revokes the session.
func (s *Server) refresh(c *fiber.Ctx) error {
	if err := s.limit(c, s.acct.limits.refresh); err != nil {
		return err
	}
	token := bearerToken(c)
	if token == "" && len(c.Body()) > 0 {
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(c.Body(), &body); err == nil {
			token = strings.TrimSpace(body.RefreshToken)
		}
	}
	if token == "" {
		return unauthorized("Not authenticated")
	}
	cl, err := s.issuer.Verify(token, auth.Refresh)
	switch {
	case errors.Is(err, auth.ErrWrongTokenType):
		// Refused with 401, not the reference's 400: no form of an access
		// token is ever good for a refresh.
		return unauthorized("Not a refresh token")
	case err != nil:
		return unauthorized("Not authenticated")
	}
	admin := s.users.IsAdmin(cl.Subject)
	pair, err := s.issuer.IssuePair(cl.Subject, admin, cl.SessionID)
	if err != nil {
		return err
	}
	err = s.users.RotateSession(c.UserContext(), cl.ID, users.Session{ID: cl.SessionID, UserID: cl.Subject,
		RefreshID: pair.RefreshID, Expires: pair.RefreshExpires})
	switch {
	case errors.Is(err, users.ErrRefreshReused):
		s.log.Warn("refresh token used twice; session revoked", "user_id", cl.Subject, "session", cl.SessionID,
			"client", s.clientIP(c))
		return unauthorized("Refresh token already used; the session is revoked")
	case errors.Is(err, users.ErrSessionRevoked):
		return unauthorized("Not authenticated")
	case err != nil:
		return err
	}
	u, err := s.users.Get(c.UserContext(), cl.Subject)
	if errors.Is(err, users.ErrNotFound) {
		return unauthorized("Not authenticated")
	}
	if err != nil {
		return err
	}
	return c.JSON(s.pairResponse(pair, u.ID, u.Email, admin))
}

// bearerToken returns the token of an Authorization: Bearer header.
func bearerToken(c *fiber.Ctx) string {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// logout ends every session of the caller on every device: all access,
// refresh and function call tokens issued to the user so far are refused
// from the next request on.
func (s *Server) logout(c *fiber.Ctx) error {
	who, err := s.requireSession(c)
	if err != nil {
		return err
	}
	n, err := s.users.Logout(c.UserContext(), who.UserID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": fmt.Sprintf("Successfully logged out (%d tokens revoked)", n),
		"sessions_revoked": n})
}

type meResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	IsAdmin   bool   `json:"is_admin"`
	CreatedAt string `json:"created_at"`
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
	return c.JSON(meResponse{ID: u.ID, Email: u.Email, IsAdmin: who.IsAdmin, CreatedAt: u.CreatedAt})
}

// privilegedFields are body members that would grant rights; a request
// that carries one where a person edits their own account is refused
// outright rather than silently ignored.
var privilegedFields = []string{"is_admin", "admin", "role", "roles", "is_superuser", "scopes"}

func privilegedField(body map[string]json.RawMessage) string {
	for _, f := range privilegedFields {
		if _, ok := body[f]; ok {
			return f
		}
	}
	return ""
}

// updateMe changes the caller's own email or password, confirmed with the
// current password. A new password ends every session, this one included.
func (s *Server) updateMe(c *fiber.Ctx) error {
	who, err := s.requireSession(c)
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if f := privilegedField(body); f != "" {
		return forbidden(fmt.Sprintf("You cannot change your own %s", f))
	}
	var req struct {
		Email           *string `json:"email"`
		Password        *string `json:"password"`
		CurrentPassword string  `json:"current_password"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Email == nil && req.Password == nil {
		return s.me(c)
	}
	if req.CurrentPassword == "" {
		return withField(unprocessable("current_password is required to change email or password"),
			"current_password", "required")
	}
	switch err := s.users.VerifyPassword(c.UserContext(), who.UserID, req.CurrentPassword); {
	case errors.Is(err, users.ErrWrongPassword):
		return forbidden("Current password is incorrect")
	case errors.Is(err, users.ErrNotFound):
		return unauthorized("Not authenticated")
	case err != nil:
		return err
	}
	u, err := s.users.Update(c.UserContext(), who.UserID, users.Patch{Email: req.Email, Password: req.Password})
	if err != nil {
		return userError(err, who.UserID)
	}
	return c.JSON(meResponse{ID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt})
}

// withField names the field of a validation error.
func withField(e *Error, field, code string) *Error {
	e.Fields = []FieldError{{Field: field, Code: code, Message: e.Message}}
	return e
}

// userError maps errors of the users package to HTTP.
func userError(err error, id string) error {
	switch {
	case errors.Is(err, users.ErrNotFound):
		return notFound(fmt.Sprintf("User '%s' not found", id))
	case errors.Is(err, users.ErrEmailTaken):
		e := badRequest("Email already registered")
		e.Code = "email_taken"
		return e
	case errors.Is(err, users.ErrInvalidEmail):
		return withField(unprocessable("value is not a valid email address"), "email", "invalid")
	case errors.Is(err, users.ErrPasswordTooShort):
		return withField(unprocessable(fmt.Sprintf("password must have at least %d characters", users.MinPasswordLen)),
			"password", "too_short")
	case errors.Is(err, users.ErrPasswordTooLong):
		return withField(unprocessable(fmt.Sprintf("password must be at most %d bytes", auth.MaxPasswordLen)),
			"password", "too_long")
	case errors.Is(err, users.ErrUserInUse):
		return &Error{Status: http.StatusBadRequest, Code: "user_in_use",
			Message: "User is still referenced by other data and cannot be deleted", Cause: err}
	}
	return err
}
