package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// methodTable knows which methods each registered API path answers, so a
// request with another method gets 405 and an Allow header instead of 404.
// Fiber would do this itself, but the catch-all 404 handler under /api
// matches every method first.
type methodTable struct {
	once   sync.Once
	routes []methodRoute
}

type methodRoute struct {
	re      *regexp.Regexp
	methods []string
}

var routeParam = regexp.MustCompile(`:[A-Za-z_]+\??|\*`)

func (t *methodTable) build(app *fiber.App) {
	byPath := map[string][]string{}
	for _, r := range app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		if !slices.Contains(byPath[r.Path], r.Method) {
			byPath[r.Path] = append(byPath[r.Path], r.Method)
		}
	}
	for path, methods := range byPath {
		var b strings.Builder
		b.WriteString("^")
		last := 0
		for _, loc := range routeParam.FindAllStringIndex(path, -1) {
			b.WriteString(regexp.QuoteMeta(path[last:loc[0]]))
			if path[loc[0]] == '*' {
				b.WriteString(".*")
			} else {
				b.WriteString("[^/]+")
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(strings.TrimSuffix(path[last:], "/")))
		b.WriteString("/?$")
		slices.Sort(methods)
		t.routes = append(t.routes, methodRoute{re: regexp.MustCompile(b.String()), methods: methods})
	}
}

// allowed returns the methods registered for path, none when the path is
// unknown.
func (t *methodTable) allowed(app *fiber.App, path string) []string {
	t.once.Do(func() { t.build(app) })
	var out []string
	for _, r := range t.routes {
		if r.re.MatchString(path) {
			for _, m := range r.methods {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// apiNotFound answers a request no API route took: 405 with Allow when the
// path exists for other methods, else 404.
func (s *Server) apiNotFound(app *fiber.App, t *methodTable) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if methods := t.allowed(app, c.Path()); len(methods) > 0 && !slices.Contains(methods, c.Method()) {
			if slices.Contains(methods, http.MethodGet) {
				methods = append(methods, http.MethodHead)
				slices.Sort(methods)
			}
			e := newError(http.StatusMethodNotAllowed, "method_not_allowed",
				c.Method()+" is not allowed here; use "+strings.Join(methods, ", "))
			e.Headers = map[string]string{"Allow": strings.Join(methods, ", ")}
			return e
		}
		return notFound("Not Found")
	}
}
