package api

import (
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/tinybase/tinybase/admin"
	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/calls"
	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/users"
	"github.com/tinybase/tinybase/pkg/version"
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
}

// App builds the fiber application with every route.
func (s *Server) App() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "TinyBase",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(s.log),
		BodyLimit:             s.cfg.Server.BodyLimitBytes,
		ReadTimeout:           60 * time.Second,
		IdleTimeout:           120 * time.Second,
		JSONEncoder:           json.Marshal,
		JSONDecoder:           json.Unmarshal,
	})
	app.Use(recover.New())
	if len(s.cfg.CORS.AllowOrigins) > 0 {
		origins := strings.Join(s.cfg.CORS.AllowOrigins, ",")
		app.Use(cors.New(cors.Config{
			AllowOrigins: origins,
			// Credentials with a wildcard origin would let any site act
			// as the user; only allow them with an explicit origin list.
			AllowCredentials: origins != "*",
		}))
	}
	app.Use(s.authenticate)

	app.Get("/", s.root)
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "healthy"}) })
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })

	api := app.Group("/api")
	api.Get("/health", s.health)

	a := api.Group("/auth")
	a.Post("/login", s.login)
	a.Get("/me", s.me)

	c := api.Group("/collections")
	c.Get("/", s.listCollections)
	c.Post("/", s.createCollection)
	c.Get("/:name", s.getCollection)
	c.Get("/:name/records", s.listRecords)
	c.Post("/:name/records", s.createRecord)
	c.Get("/:name/records/:id", s.getRecord)

	f := api.Group("/functions")
	f.Get("/", s.listFunctions)
	f.Get("/admin/list", s.adminListFunctions)
	f.Get("/:name/schema", s.functionSchema)
	f.Post("/:name", s.callFunction)

	ad := api.Group("/admin", s.requireAdmin)
	ad.Get("/functions/calls", s.listCalls)
	ad.Get("/functions/calls/:id", s.getCall)

	api.Use(func(c *fiber.Ctx) error { return notFound("Not Found") })

	if s.cfg.Admin.StaticDir != "" {
		mountAdmin(app, "/admin", admin.Files())
	}
	return app
}

func (s *Server) root(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"name": "TinyBase", "version": version.Version, "docs": "/docs",
		"openapi": "/openapi.json", "admin": "/admin", "auth": nil})
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
		return unprocessable("Invalid JSON body: " + err.Error())
	}
	return nil
}
