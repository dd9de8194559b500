package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/email"
	"github.com/tinybase/tinybase/pkg/settings"
	"github.com/tinybase/tinybase/pkg/users"
)

// resetPath is where the emailed link points, under the public URL; the
// admin UI's sign-in portal serves it.
const resetPath = "/auth/password-reset/"

const resetRequested = "If the email exists, a password reset link has been sent"

// requestPasswordReset emails a reset link when the address has an
// account. The answer is the same whether or not it has one, and the
// email is sent in the background.
func (s *Server) requestPasswordReset(c *fiber.Ctx) error {
	if err := s.limit(c, s.acct.limits.resetRequest); err != nil {
		return err
	}
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	addr, err := users.NormalizeEmail(req.Email)
	if err != nil {
		return userError(err, "")
	}
	if ok, _ := s.acct.limits.resetEmails.Allow(addr); !ok {
		// Someone is mail-bombing this address: keep quiet, send nothing.
		s.log.Warn("password reset emails to one address over the limit", "client", s.clientIP(c))
		return c.JSON(fiber.Map{"message": resetRequested})
	}
	ttl := time.Duration(s.cfg.Auth.PasswordResetTTLMinutes) * time.Minute
	token, u, err := s.users.RequestReset(c.UserContext(), addr, ttl)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return c.JSON(fiber.Map{"message": resetRequested})
	case err != nil:
		return err
	}
	if s.acct.outbox == nil {
		s.log.Warn("password reset requested but email is disabled; no link sent", "user_id", u.ID)
		return c.JSON(fiber.Map{"message": resetRequested})
	}
	msg, err := s.acct.templates.Render(email.PasswordReset, u.Email, map[string]any{
		"InstanceName": s.acct.settings.Current().String(settings.InstanceName),
		"Email":        u.Email,
		"Link":         s.acct.publicBaseURL() + resetPath + token,
		"ValidFor":     humanDuration(ttl),
	})
	if err != nil {
		s.log.Error("render password reset email failed", "error", err)
		return c.JSON(fiber.Map{"message": resetRequested})
	}
	if err := s.acct.outbox.Enqueue(msg); err != nil {
		s.log.Error("queue password reset email failed", "user_id", u.ID, "error", err)
	}
	return c.JSON(fiber.Map{"message": resetRequested})
}

// confirmPasswordReset sets a new password with a token from the email.
// Every session of the user ends: tokens issued before are refused.
func (s *Server) confirmPasswordReset(c *fiber.Ctx) error {
	if err := s.limit(c, s.acct.limits.resetConfirm); err != nil {
		return err
	}
	var req struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return withField(unprocessable("token is required"), "token", "required")
	}
	u, err := s.users.ConfirmReset(c.UserContext(), req.Token, req.Password)
	if errors.Is(err, users.ErrInvalidResetToken) {
		e := newError(http.StatusBadRequest, "invalid_reset_token", "Invalid or expired reset token")
		return e
	}
	if err != nil {
		return userError(err, "")
	}
	s.log.Info("password reset; sessions revoked", "user_id", u.ID)
	return c.JSON(fiber.Map{"message": "Password reset successful"})
}

func humanDuration(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/time.Minute), "minute")
}
