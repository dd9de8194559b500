// Package openapi builds TinyBase's OpenAPI 3.1 document: a static part
// describing every route of the REST API, and dynamic parts for what the
// instance holds — each collection's record shape and each function's
// input and output. The api serves it at /openapi.json and the page at
// /docs reads it; `tinybase openapi export` prints it.
package openapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/functions"
)

// Version is the OpenAPI version of the document.
const Version = "3.1.0"

// Input is what the dynamic parts are built from.
type Input struct {
	// AppVersion is TinyBase's version, shown in info.version.
	AppVersion string
	// Collections are described by their parsed schema.
	Collections []collections.Collection
	// Functions are those the reader may see.
	Functions []functions.Meta
}

// Static returns the document without collections and functions.
func Static(appVersion string) obj { return Build(Input{AppVersion: appVersion}) }

// staticParts renders the route table and the fixed schemas once. Build
// copies the two top-level maps and only adds keys to them, so the
// rendered objects below are shared and never changed.
var staticParts = sync.OnceValues(func() (paths, comps obj) {
	paths = obj{}
	for _, o := range routes() {
		item, _ := paths[o.path].(obj)
		if item == nil {
			item = obj{}
			paths[o.path] = item
		}
		item[strings.ToLower(o.method)] = o.render()
	}
	return paths, schemas()
})

// Build returns the whole document for in.
func Build(in Input) obj {
	staticPaths, staticComps := staticParts()
	paths, comps := maps.Clone(staticPaths), maps.Clone(staticComps)
	for _, c := range in.Collections {
		addCollection(paths, comps, c)
	}
	for _, m := range in.Functions {
		addFunction(paths, comps, m)
	}
	return obj{
		"openapi": Version,
		"info": obj{"title": "TinyBase", "version": in.AppVersion,
			"description": "The REST API of a TinyBase instance. Paths under /api/collections/<name> and " +
				"/api/functions/<name> describe this instance's collections and functions."},
		"servers": []obj{{"url": "/"}},
		"tags": []obj{
			{"name": "system"}, {"name": "auth"}, {"name": "collections"}, {"name": "records"},
			{"name": "functions"}, {"name": "schedules"}, {"name": "admin"}, {"name": "extensions"},
			{"name": "activity"},
		},
		"paths": paths,
		"components": obj{
			"schemas": comps,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "an access token from POST /api/auth/login, or an application token (tb_…)"}},
		},
	}
}

// JSON encodes a document with two-space indentation and a final newline.
func JSON(doc obj) ([]byte, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return append(b, '\n'), nil
}

// componentName makes a schema name from parts: letters, digits, '_', '-'
// and '.' only, as components require.
func componentName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, r := range p {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.", r) {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}
