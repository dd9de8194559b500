package api

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// mountAdmin serves the admin single-page app under prefix (/admin, and
// /auth for the sign-in portal, which is the same app). Paths that are not
// files get index.html so deep links and reloads work; the built assets
// load from absolute /admin/assets/ URLs under either prefix.
func mountAdmin(app *fiber.App, prefix string, files fs.FS) {
	serve := func(c *fiber.Ctx) error {
		p := strings.TrimPrefix(c.Path(), prefix)
		p = strings.TrimPrefix(path.Clean("/"+p), "/")
		if p == "" {
			p = "index.html"
		}
		data, err := fs.ReadFile(files, p)
		if err != nil && strings.HasPrefix(p, "assets/") {
			// A missing script or stylesheet must fail as such, not turn
			// into index.html served as text/html.
			return notFound("Not Found")
		}
		if err != nil {
			p = "index.html"
			if data, err = fs.ReadFile(files, p); err != nil {
				return notFound("Admin UI is not available")
			}
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.Set(fiber.HeaderContentType, ct)
		if p == "index.html" {
			c.Set(fiber.HeaderCacheControl, "no-cache")
		}
		return c.Send(data)
	}
	app.Get(prefix, serve)
	app.Get(prefix+"/*", serve)
}
