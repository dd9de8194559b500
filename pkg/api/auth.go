package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/apptokens"
	"github.com/tinybase/tinybase/pkg/auth"
)

// How a caller authenticated.
const (
	viaAccess = "access" // a user's access token: a login session
	viaCall   = "call"   // a function call token, acting for the call's caller
	viaApp    = "app"    // an application token, acting for the admin who made it
)

// caller is who made the request; the zero value is anonymous.
type caller struct {
	UserID  string
	IsAdmin bool
	// Via is how the caller authenticated (viaAccess, viaCall, viaApp).
	Via string
	// SessionID is the login session of an access token.
	SessionID string
	// TokenID is the application token used, with viaApp.
	TokenID string
}

func (c caller) authenticated() bool { return c.UserID != "" }

const callerKey = "tb.caller"

// authenticate resolves a bearer token into a caller. A missing or bad
// token means anonymous here; routes that need a user answer 401 later.
// Access tokens, call tokens (held by function processes, acting as their
// caller) and application tokens are accepted; refresh tokens are not.
//
// Checking a token reads memory only: the signature, then the revocation
// view, then the user's current role from the users service (a token's
// is_admin claim is never trusted, so a demotion applies at once).
func (s *Server) authenticate(c *fiber.Ctx) error {
	token := bearerToken(c)
	if token == "" && c.Get(fiber.HeaderAuthorization) == "" && c.Path() == activityStreamPath {
		// EventSource cannot send headers; this one read-only route takes
		// the token from the query instead.
		token = c.Query("token")
	}
	if token == "" {
		return c.Next()
	}
	who, writes, ok := s.tokenCaller(token)
	if !ok {
		return c.Next()
	}
	if !writes && !safeMethod(c.Method()) {
		return forbidden(fmt.Sprintf("Application token scope does not allow %s requests", c.Method()))
	}
	c.Locals(callerKey, who)
	return c.Next()
}

// tokenCaller resolves a bearer token to its caller, as of now: revoked
// sessions, deleted users and lost admin rights all count. writes is false
// for an application token without the write scope.
func (s *Server) tokenCaller(token string) (who caller, writes, ok bool) {
	if strings.HasPrefix(token, apptokens.Prefix) {
		p, err := s.acct.tokens.Authenticate(token)
		if err != nil {
			return caller{}, false, false
		}
		return caller{UserID: p.UserID, Via: viaApp, TokenID: p.TokenID,
			IsAdmin: p.Has(apptokens.ScopeAdmin) && s.users.IsAdmin(p.UserID)}, p.Has(apptokens.ScopeWrite), true
	}
	cl, err := s.issuer.Verify(token, auth.Access, auth.Call)
	if err != nil || cl.Subject == "" {
		return caller{}, false, false
	}
	via := viaAccess
	if cl.Type == auth.Call {
		// A call token acts for its caller only while that call runs.
		var issued time.Time
		if cl.IssuedAtMicros > 0 {
			issued = time.UnixMicro(cl.IssuedAtMicros)
		}
		if s.dispatch == nil || !s.dispatch.callActive(context.Background(), cl.CallID, issued) {
			return caller{}, false, false
		}
		via = viaCall
	}
	return caller{UserID: cl.Subject, IsAdmin: s.users.IsAdmin(cl.Subject), Via: via,
		SessionID: cl.SessionID}, true, true
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
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

// requireSession is requireUser for changes only a signed-in person may
// make (logging out, changing the own account, minting application
// tokens): function call tokens and application tokens are refused.
func (s *Server) requireSession(c *fiber.Ctx) (caller, error) {
	who, err := s.requireUser(c)
	if err != nil {
		return who, err
	}
	if who.Via != viaAccess {
		return who, forbidden("This request needs a user's access token")
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
