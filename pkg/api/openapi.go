package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/openapi"
	"github.com/tinybase/tinybase/pkg/version"
)

// openapiRoutes serves the OpenAPI document and the page that explores it.
func (s *Server) openapiRoutes(app fiber.Router) {
	app.Get("/openapi.json", s.openapiDocument)
	app.Get("/docs", s.docsPage)
}

// openapiDocument answers the OpenAPI 3.1 document of this instance: every
// route, every collection, and the functions the caller may see (as
// GET /api/functions filters them), so it is public like those lists.
func (s *Server) openapiDocument(c *fiber.Ctx) error {
	colls, err := s.collections.List(c.UserContext())
	if err != nil {
		return err
	}
	who := callerOf(c)
	doc := openapi.Build(openapi.Input{AppVersion: version.Version, Collections: colls,
		Functions: s.registry.Visible(who.authenticated(), who.IsAdmin)})
	body, err := openapi.JSON(doc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("json")
	return c.Send(body)
}

// docsPage serves the embedded API explorer. Its script and styles are
// inline and it talks to this origin only, which the policy pins down.
func (s *Server) docsPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; script-src 'unsafe-inline'; "+
		"style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Type("html", "utf-8")
	return c.Send(openapi.DocsPage())
}
