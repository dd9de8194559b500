package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/tinybase/tinybase/admin"
	"github.com/tinybase/tinybase/pkg/activity"
	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/extension"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/metrics"
	"github.com/tinybase/tinybase/pkg/users"
	"github.com/tinybase/tinybase/pkg/version"
	"github.com/tinybase/tinybase/pkg/versions"
)

// Server holds what the HTTP handlers need. Handlers translate between
// HTTP and these domain services and do nothing else.
type Server struct {
	cfg         *config.Config
	log         *slog.Logger
	users       *users.Service
	issuer      *auth.Issuer
	collections *collections.Service
	calls       *calls.Calls
	registry    *functions.Registry
	dispatch    *dispatcher
	versions    *versions.Store
	publisher   *publisher
	metrics     *metrics.Reader
	acct        *accounts
	sched       *schedules
	// events tells the activity log and extensions what happened.
	events *events
	// activity is the activity log, the events' main observer.
	activity *activity.Log
	// ext runs the installed extensions (never nil once Run has set it up).
	ext *extension.Manager
}

// App builds the fiber application with every route.
func (s *Server) App() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "TinyBase",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(s.log),
		BodyLimit:             s.cfg.Server.BodyLimitBytes,
		// Long filter expressions travel in the query string.
		ReadBufferSize: 32 << 10,
		ReadTimeout:    60 * time.Second,
		IdleTimeout:    120 * time.Second,
		JSONEncoder:    json.Marshal,
		JSONDecoder:    json.Unmarshal,
	})
	app.Use(recover.New())
	if len(s.cfg.CORS.AllowOrigins) > 0 {
		app.Use(cors.New(corsConfig(s.cfg.CORS.AllowOrigins)))
	}
	app.Use(s.authenticate)

	app.Get("/", s.root)
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "healthy"}) })
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.openapiRoutes(app)

	api := app.Group("/api")
	api.Get("/health", s.health)

	s.authRoutes(api)

	s.collectionRoutes(api)

	f := api.Group("/functions")
	f.Get("/", s.listFunctions)
	f.Get("/admin/list", s.adminListFunctions)
	f.Get("/calls/:id", s.getOwnCall)
	f.Get("/:name/schema", s.functionSchema)
	f.Post("/:name", s.callFunction)

	ad := api.Group("/admin", s.requireAdmin)
	s.deployRoutes(ad)
	s.metricsRoutes(ad)
	s.workerRoutes(ad)
	s.activityRoutes(ad)
	ad.Get("/functions/calls", s.listCalls)
	ad.Get("/functions/calls/:id", s.getCall)
	s.scheduleRoutes(api)
	s.extensionRoutes(api)

	api.Use(s.apiNotFound(app, &methodTable{}))

	if dir := s.cfg.Admin.StaticDir; dir != "" {
		files := admin.Files()
		if dir != "builtin" {
			// A folder holding a build of admin/ (for example one being
			// developed) replaces the embedded copy.
			files = os.DirFS(s.cfg.Path(dir))
		}
		mountAdmin(app, "/admin", files)
		// The auth portal is the same single-page app.
		mountAdmin(app, "/auth", files)
	}
	if dir := s.cfg.Public.StaticDir; dir != "" {
		// Served last, so API and admin routes always win.
		app.Static("/", s.cfg.Path(dir), fiber.Static{Index: "index.html", Browse: false})
	}
	return app
}

func (s *Server) root(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"name": "TinyBase", "version": version.Version, "docs": "/docs",
		"openapi": "/openapi.json", "admin": "/admin", "auth": "/auth"})
}

func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "healthy", "version": version.Version,
		"functions": len(s.registry.List())})
}

// decodeJSON parses the request body into v, answering 422 for malformed
// JSON the way the reference does.
func decodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return unprocessable("Request body is required")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return unprocessable(jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a body decoding error without Go type names.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Invalid JSON body: syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("Invalid JSON body: field %q must be %s, got %s", typ.Field,
			jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("Invalid JSON body: expected a JSON object, got %s", typ.Value)
	}
	return "Invalid JSON body"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64", "int32":
		return "a number"
	case "slice":
		return "an array"
	}
	return "an object"
}
