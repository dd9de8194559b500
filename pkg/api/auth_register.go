package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/ratelimit"
	"github.com/tinybase/tinybase/pkg/settings"
)

// limit takes one request from the caller's address off l, answering 429
// with Retry-After when none is left.
func (s *Server) limit(c *fiber.Ctx, l *ratelimit.Limiter) error {
	if l == nil {
		return nil
	}
	ok, wait := l.Allow(s.clientIP(c))
	if ok {
		return nil
	}
	e := newError(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("Rate limit exceeded: %d per %s", l.Limit(), windowText(l)))
	e.Headers = map[string]string{"Retry-After": strconv.Itoa(ratelimit.RetryAfter(wait))}
	return e
}

func windowText(l *ratelimit.Limiter) string {
	if l.Window() == time.Minute {
		return "1 minute"
	}
	return l.Window().String()
}

// clientIP is the address limits are keyed on: the connection's peer, or
// what a trusted proxy says in X-Forwarded-For.
func (s *Server) clientIP(c *fiber.Ctx) string {
	return s.acct.proxies.ClientIP(c.Context().RemoteIP().String(), c.Get(fiber.HeaderXForwardedFor))
}

// register creates a plain user account when public registration is on.
// The account never gets admin rights here: a body that asks for them is
// refused with 403.
func (s *Server) register(c *fiber.Ctx) error {
	if err := s.limit(c, s.acct.limits.register); err != nil {
		return err
	}
	if !s.acct.settings.Current().Bool(settings.AllowPublicRegistration) {
		return forbidden("Public registration is disabled")
	}
	var body map[string]json.RawMessage
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if f := privilegedField(body); f != "" {
		return forbidden(fmt.Sprintf("%s cannot be set at registration", f))
	}
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Email == "" {
		return withField(unprocessable("email is required"), "email", "required")
	}
	u, err := s.users.Create(c.UserContext(), req.Email, req.Password, false)
	if err != nil {
		return userError(err, "")
	}
	s.log.Info("user registered", "user_id", u.ID)
	s.events.emit(Event{Kind: EventUserRegistered, ActorID: u.ID, Subject: u.ID,
		Data: map[string]any{"email": u.Email}})
	return c.Status(http.StatusCreated).JSON(fiber.Map{"id": u.ID, "email": u.Email,
		"message": "User registered successfully"})
}

func (s *Server) instanceInfo(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"instance_name": s.acct.settings.Current().String(settings.InstanceName)})
}

// setupStatus tells the admin UI whether any account exists. It only
// reads: `tinybase init` creates the first admin, and no request can.
func (s *Server) setupStatus(c *fiber.Ctx) error {
	n, err := s.users.Count(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"needs_setup": n == 0})
}

// portalConfig is what the sign-in portal shows. With preview=true an
// admin may try look parameters before saving them.
func (s *Server) portalConfig(c *fiber.Ctx) error {
	preview := c.QueryBool("preview", false)
	if preview {
		if who := callerOf(c); !who.IsAdmin {
			return forbidden("Admin access required for preview mode")
		}
	}
	snap := s.acct.settings.Current()
	str := func(key, query string) *string {
		v := snap.String(key)
		if preview && query != "" {
			if q, ok := c.Queries()[query]; ok {
				v = q
			}
		}
		if v == "" {
			return nil
		}
		return &v
	}
	return c.JSON(fiber.Map{
		"instance_name":         snap.String(settings.InstanceName),
		"logo_url":              str(settings.PortalLogoURL, "logo_url"),
		"primary_color":         str(settings.PortalPrimaryColor, "primary_color"),
		"background_image_url":  str(settings.PortalBackgroundImageURL, "background_image_url"),
		"registration_enabled":  snap.Bool(settings.AllowPublicRegistration),
		"login_redirect_url":    str(settings.PortalLoginRedirectURL, ""),
		"register_redirect_url": str(settings.PortalRegisterRedirectURL, ""),
	})
}
