package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"

	"github.com/tinybase/tinybase/internal/testenv"
)

// TestOpenAPIDocument: with a collection and the hello function present,
// /openapi.json is a valid OpenAPI 3.1 document that describes both, and
// /docs and / point at it.
func TestOpenAPIDocument(t *testing.T) {
	env := testenv.New(t)
	_, base := startAPI(t, env)
	startWorker(t, env, "w1")
	token := login(t, base)
	if code := areq(t, "POST", base+"/api/collections", token, map[string]any{"name": "notes", "label": "Notes",
		"schema": map[string]any{"fields": []any{map[string]any{"name": "title", "type": "string",
			"required": true}}}}, nil); code != 201 {
		t.Fatalf("create collection: %d", code)
	}
	waitListed(t, base, "hello")

	resp, err := client.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := libopenapi.NewDocument(body)
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
		for _, e := range errs {
			t.Errorf("%s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.FailNow()
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build model: %v", err)
	}
	paths := model.Model.Paths.PathItems
	for _, p := range []string{"/api/collections/{collection_name}/records", "/api/collections/notes/records",
		"/api/functions/{function_name}", "/api/functions/hello", "/api/admin/activity"} {
		if _, ok := paths.Get(p); !ok {
			t.Errorf("path %s missing", p)
		}
	}
	hello, _ := paths.Get("/api/functions/hello")
	if hello == nil || hello.Post == nil || hello.Post.RequestBody == nil {
		t.Fatal("hello has no request body")
	}
	media, _ := hello.Post.RequestBody.Content.Get("application/json")
	input := media.Schema.Schema()
	if name, ok := input.Properties.Get("name"); !ok || name.Schema().Type[0] != "string" {
		t.Errorf("hello input schema lacks name: %v", input.Properties)
	}
	var raw struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	_ = json.Unmarshal(body, &raw)
	if s := string(raw.Components.Schemas["Collection_notes_Data"]); !strings.Contains(s, `"title"`) {
		t.Errorf("notes data schema: %s", s)
	}

	// The page and the root links.
	resp, err = client.Get(base + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "/openapi.json") || strings.Contains(string(page), "https://") {
		t.Errorf("/docs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var root map[string]any
	if code := areq(t, "GET", base+"/", "", nil, &root); code != http.StatusOK || root["docs"] != "/docs" ||
		root["openapi"] != "/openapi.json" {
		t.Errorf("root: %d %v", code, root)
	}
}
