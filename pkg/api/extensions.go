package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/extension"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// extensionRoutes serves the admin API of extensions and forwards
// /api/ext/{name}/… to the extensions' own routes.
func (s *Server) extensionRoutes(api fiber.Router) {
	ad := api.Group("/admin/extensions", s.requireAdmin)
	ad.Get("/", s.listExtensions)
	ad.Post("/", s.installExtension)
	ad.Get("/:name", s.getExtension)
	ad.Patch("/:name", s.updateExtension)
	ad.Delete("/:name", s.uninstallExtension)
	api.All("/ext/:name", s.extensionRoute)
	api.All("/ext/:name/*", s.extensionRoute)
}

// extensionBody is the reference's Ext JSON, with repo_url null (we
// install from a path, shown as source) and our additions after it.
func extensionBody(in extension.Info) fiber.Map {
	hooks := make([]string, 0, len(in.Manifest.Hooks))
	for _, h := range in.Manifest.Hooks {
		hooks = append(hooks, h.Hook)
	}
	settings := in.Manifest.Settings
	if settings == nil {
		settings = []extension.SettingSpec{}
	}
	routes := in.Manifest.Routes
	if routes == nil {
		routes = []extension.RouteSpec{}
	}
	return fiber.Map{"id": in.ID, "name": in.Name, "version": in.Version, "description": in.Description,
		"author": in.Author, "repo_url": nil, "is_enabled": in.IsEnabled, "installed_at": in.InstalledAt,
		"updated_at": in.UpdatedAt, "update_available": nil,
		"source": in.Source, "sha256": in.SHA256, "policy": in.Policy, "status": in.Status,
		"hooks": hooks, "settings": settings, "routes": routes}
}

func extensionError(name string, err error) error {
	switch {
	case errors.Is(err, extension.ErrNotFound):
		return notFound(fmt.Sprintf("Extension '%s' not found", name))
	case errors.Is(err, extension.ErrExists):
		var ee *extension.ExistsError
		if errors.As(err, &ee) {
			name = ee.Name
		}
		return newError(http.StatusBadRequest, "extension_exists",
			fmt.Sprintf("Extension '%s' is already installed; uninstall it first to reinstall", name))
	case errors.Is(err, extension.ErrInvalid):
		return newError(http.StatusBadRequest, "invalid_extension",
			strings.TrimPrefix(err.Error(), extension.ErrInvalid.Error()+": "))
	}
	return err
}

func (s *Server) listExtensions(c *fiber.Ctx) error {
	enabledOnly, err := boolQuery(c, "enabled_only")
	if err != nil {
		return err
	}
	if _, err := boolQuery(c, "check_updates"); err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	offset, err := intQuery(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	all, err := s.ext.List(c.UserContext())
	if err != nil {
		return err
	}
	out := []fiber.Map{}
	total := 0
	for _, in := range all {
		if enabledOnly && !in.IsEnabled {
			continue
		}
		if total >= offset && len(out) < limit {
			out = append(out, extensionBody(in))
		}
		total++
	}
	return c.JSON(fiber.Map{"extensions": out, "total": total, "limit": limit, "offset": offset})
}

type installRequest struct {
	Path      string  `json:"path"`
	RepoURL   *string `json:"repo_url"`
	Policy    string  `json:"policy"`
	IsEnabled *bool   `json:"is_enabled"`
}

func (s *Server) installExtension(c *fiber.Ctx) error {
	var req installRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Path == "" && req.RepoURL != nil {
		return withField(badRequest("Installing from a repository is not supported; "+
			"pass the path of a built extension or a Go source folder on the server as \"path\""),
			"repo_url", "unsupported")
	}
	if strings.TrimSpace(req.Path) == "" {
		return withField(unprocessable("path is required"), "path", "required")
	}
	in := extension.InstallInput{Path: req.Path, Policy: req.Policy, Disabled: req.IsEnabled != nil && !*req.IsEnabled}
	info, err := s.ext.Install(c.UserContext(), in)
	if err != nil {
		return extensionError("", err)
	}
	s.extensionChanged(c, info.Name, "installed", map[string]any{"version": info.Version,
		"sha256": info.SHA256, "enabled": info.IsEnabled})
	return c.Status(http.StatusCreated).JSON(extensionBody(info))
}

func (s *Server) getExtension(c *fiber.Ctx) error {
	name := c.Params("name")
	info, err := s.ext.Get(c.UserContext(), name)
	if err != nil {
		return extensionError(name, err)
	}
	return c.JSON(extensionBody(info))
}

type updateExtensionRequest struct {
	IsEnabled *bool   `json:"is_enabled"`
	Policy    *string `json:"policy"`
}

func (s *Server) updateExtension(c *fiber.Ctx) error {
	name := c.Params("name")
	var req updateExtensionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	info, err := s.ext.Update(c.UserContext(), name, req.IsEnabled, req.Policy)
	if err != nil {
		if errors.Is(err, extension.ErrInvalid) {
			return withField(extensionError(name, err).(*Error), "policy", "enum")
		}
		return extensionError(name, err)
	}
	action := "updated"
	if req.IsEnabled != nil && *req.IsEnabled {
		action = "enabled"
	} else if req.IsEnabled != nil {
		action = "disabled"
	}
	s.extensionChanged(c, name, action, map[string]any{"enabled": info.IsEnabled, "policy": info.Policy})
	return c.JSON(extensionBody(info))
}

func (s *Server) uninstallExtension(c *fiber.Ctx) error {
	name := c.Params("name")
	if err := s.ext.Uninstall(c.UserContext(), name); err != nil {
		return extensionError(name, err)
	}
	s.extensionChanged(c, name, "uninstalled", nil)
	return c.SendStatus(http.StatusNoContent)
}

// extensionChanged tells observers (the activity log) what an admin did
// to an extension.
func (s *Server) extensionChanged(c *fiber.Ctx, name, action string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["action"] = action
	s.events.emit(Event{Kind: EventExtensionChanged, ActorID: callerOf(c).UserID, Subject: name, Data: data})
}

// hiddenHeaders never reach an extension: credentials stay with TinyBase.
var hiddenHeaders = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true}

const badRoutePath = "Extension route paths may not contain '.' or '..' segments, encoded slashes or backslashes"

// extensionRoute forwards a request to the route an extension declared,
// after applying that route's auth rule. The caller's identity travels
// with it; the caller's token does not.
func (s *Server) extensionRoute(c *fiber.Ctx) error {
	name := c.Params("name")
	// The raw path, checked before anything matches on it: fiber routes on
	// it undecoded and without resolving dot-segments.
	raw := string(c.Request().URI().PathOriginal())
	if _, err := extension.RoutePath(raw); err != nil {
		return withField(badRequest(badRoutePath), "path", "invalid")
	}
	path, err := extension.RoutePath(c.Params("*"))
	if err != nil {
		return withField(badRequest(badRoutePath), "path", "invalid")
	}
	route, err := s.ext.MatchRoute(name, c.Method(), path)
	if err != nil {
		return notFound("Not Found")
	}
	who := callerOf(c)
	switch route.Auth {
	case extension.AuthUser:
		if _, err := s.requireUser(c); err != nil {
			return err
		}
	case extension.AuthAdmin:
		if _, err := s.mustAdmin(c); err != nil {
			return err
		}
	case extension.AuthPublic:
	default:
		return forbidden("Access denied")
	}
	req := &extv1.RouteRequest{Method: c.Method(), Path: path, Query: string(c.Request().URI().QueryString()),
		Headers: map[string]string{}, Body: c.Body(), Caller: &extv1.Caller{UserId: who.UserID, IsAdmin: who.IsAdmin}}
	c.Request().Header.VisitAll(func(k, v []byte) {
		key := strings.ToLower(string(k))
		if !hiddenHeaders[key] {
			req.Headers[key] = string(v)
		}
	})
	resp, err := s.ext.Route(c.UserContext(), name, req)
	if err != nil {
		return s.extensionRouteError(name, err)
	}
	for k, v := range resp.Headers {
		switch strings.ToLower(k) {
		case "content-length", "transfer-encoding", "connection", "set-cookie":
			continue
		}
		c.Set(k, v)
	}
	status := int(resp.Status)
	if status < 100 || status > 599 {
		status = http.StatusOK
	}
	return c.Status(status).Send(resp.Body)
}

// extensionRouteError answers a route call that failed. The extension's
// own error text goes to the log, never to the client.
func (s *Server) extensionRouteError(name string, err error) error {
	switch {
	case errors.Is(err, extension.ErrUnavailable), errors.Is(err, extension.ErrNotFound):
		e := newError(http.StatusServiceUnavailable, "extension_unavailable",
			fmt.Sprintf("Extension '%s' is unavailable; try again", name))
		e.Headers = map[string]string{"Retry-After": "1"}
		return e
	case errors.Is(err, extension.ErrTimeout):
		s.log.Warn("extension route timed out", "extension", name, "error", err)
		return newError(http.StatusGatewayTimeout, "extension_timeout",
			fmt.Sprintf("Extension '%s' did not answer in time", name))
	case errors.Is(err, extension.ErrTooLarge):
		s.log.Warn("extension route answer too large", "extension", name, "error", err)
		return newError(http.StatusBadGateway, "extension_answer_too_large",
			fmt.Sprintf("Extension '%s' answer too large", name))
	case errors.Is(err, extension.ErrRouteFailed):
		s.log.Warn("extension route failed", "extension", name, "error", err)
		return newError(http.StatusInternalServerError, "extension_failed",
			fmt.Sprintf("Extension '%s' failed to handle the request", name))
	}
	return err
}
