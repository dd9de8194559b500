package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/openapi"
)

// undocumented are route prefixes the OpenAPI document leaves out on
// purpose: the admin UI and auth portal pages, and the routes extensions
// serve themselves.
var undocumented = []string{"/admin", "/auth", "/api/ext"}

// TestOpenAPICoversRoutes: every route the server registers is in the
// static document, and the document names no route the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	cfg := config.Default()
	s := &Server{cfg: &cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	app := s.App()
	param := regexp.MustCompile(`:[A-Za-z_]+|\{[A-Za-z_]+\}`)
	norm := func(p string) string {
		p = param.ReplaceAllString(p, "{}")
		if len(p) > 1 {
			p = strings.TrimSuffix(p, "/")
		}
		return p
	}
	served := map[string]bool{}
outer:
	for _, r := range app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || strings.Contains(r.Path, "*") {
			continue
		}
		for _, u := range undocumented {
			if r.Path == u || strings.HasPrefix(r.Path, u+"/") {
				continue outer
			}
		}
		served[r.Method+" "+norm(r.Path)] = true
	}
	body, err := openapi.JSON(openapi.Static("test"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, item := range doc.Paths {
		for m := range item {
			documented[strings.ToUpper(m)+" "+norm(p)] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document (pkg/openapi/routes.go):\n  %s",
			strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("documented routes the server does not have:\n  %s", strings.Join(extra, "\n  "))
	}
}
