package openapi

import _ "embed"

// docsPage is the interactive documentation served at /docs: one
// self-contained HTML page (no CDN) that reads /openapi.json, lists the
// operations and sends requests with a bearer token.
//
//go:embed docs.html
var docsPage []byte

// DocsPage returns the /docs page.
func DocsPage() []byte { return docsPage }
