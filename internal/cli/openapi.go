package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/tinybase/tinybase/pkg/openapi"
	"github.com/tinybase/tinybase/pkg/version"
)

// OpenAPICmd groups the OpenAPI commands.
type OpenAPICmd struct {
	Export OpenAPIExportCmd `cmd:"" help:"Print the OpenAPI 3.1 document of the REST API."`
}

// OpenAPIExportCmd prints the OpenAPI document. Without --url it prints the
// static part, which needs no running instance; with --url it fetches the
// instance's /openapi.json, which adds its collections and the functions
// the token may see.
type OpenAPIExportCmd struct {
	Out   string `help:"Write the document to this file instead of standard output." type:"path"`
	URL   string `name:"url" help:"Fetch the full document from this running instance." env:"TINYBASE_API_URL"`
	Token string `help:"Bearer token for --url; the document lists the functions it may call." env:"TINYBASE_API_TOKEN"`
}

// Run prints or writes the document.
func (c *OpenAPIExportCmd) Run(g *Globals) error {
	var body []byte
	var err error
	if c.URL == "" {
		body, err = openapi.JSON(openapi.Static(version.Version))
	} else {
		body, err = c.fetch()
	}
	if err != nil {
		return err
	}
	if c.Out == "" {
		_, err = os.Stdout.Write(body)
		return err
	}
	if err := os.WriteFile(c.Out, body, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", c.Out, err)
	}
	return nil
}

// fetch reads /openapi.json from the instance at c.URL.
func (c *OpenAPIExportCmd) fetch() ([]byte, error) {
	api, err := normalizeAPIURL(c.URL)
	if err != nil {
		return nil, err
	}
	docURL := strings.TrimSuffix(api, "/api") + "/openapi.json"
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := (&http.Client{Timeout: 2 * defaultTimeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w (is the instance running?)", docURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", docURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: status %d", docURL, resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil || doc["openapi"] == nil {
		return nil, fmt.Errorf("fetch %s: the answer is not an OpenAPI document", docURL)
	}
	return body, nil
}
