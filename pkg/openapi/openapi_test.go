package openapi

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/functions"
)

// Validate checks a document against the OpenAPI 3.1 JSON schema and
// resolves every reference in it. Tests elsewhere use it too.
func validate(t *testing.T, body []byte) {
	t.Helper()
	doc, err := libopenapi.NewDocument(body)
	if err != nil {
		t.Fatalf("parse document: %v", err)
	}
	if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
		for i, e := range errs {
			if i == 10 {
				break
			}
			t.Errorf("invalid: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		t.FailNow()
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("build model (references): %v", err)
	}
}

func TestStaticGolden(t *testing.T) {
	body, err := JSON(Static("test"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "static.json")
	if os.Getenv("UPDATE") == "1" {
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("%s is out of date; run UPDATE=1 go test ./pkg/openapi", golden)
	}
	validate(t, body)
}

const pydanticInput = `{
"$defs":{"Address":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}},
"properties":{"name":{"type":"string"},"home":{"$ref":"#/$defs/Address"}},
"required":["name"],"title":"In","type":"object",
"$schema":"https://json-schema.org/draft/2020-12/schema"}`

func TestDynamic(t *testing.T) {
	schema := `{"fields":[
		{"name":"title","type":"string","required":true,"max_length":200,"pattern":"^[A-Z]"},
		{"name":"n","type":"integer","min":0,"max":10,"default":3},
		{"name":"price","type":"number"},{"name":"done","type":"boolean"},
		{"name":"tags","type":"list[string]","max_length":5},{"name":"any","type":"array"},
		{"name":"meta","type":"object"},{"name":"day","type":"date"},{"name":"at","type":"datetime"},
		{"name":"author","type":"reference","collection":"notes"}]}`
	in := Input{AppVersion: "test",
		Collections: []collections.Collection{{Name: "notes", Schema: json.RawMessage(schema)},
			{Name: "empty", Schema: json.RawMessage(`{"fields":[]}`)}},
		Functions: []functions.Meta{
			{Name: "hello", Auth: "public", Description: "Say hello", InputSchema: json.RawMessage(pydanticInput),
				OutputSchema: json.RawMessage(`{"type":"object","properties":{"message":{"type":"string"}}}`)},
			{Name: "bare", Auth: "admin", Tags: []string{"ops"}},
		}}
	before, err := JSON(Static("test"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := JSON(Build(in))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, body)
	// The static part is built once and shared: adding an instance's
	// collections and functions must leave it as it was.
	if after, _ := JSON(Static("test")); string(after) != string(before) {
		t.Error("building a document with collections and functions changed the static document")
	}
	var doc struct {
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/collections/{collection_name}/records", "/api/collections/notes/records",
		"/api/collections/notes/records/{record_id}", "/api/functions/{function_name}", "/api/functions/hello",
		"/api/functions/bare"} {
		if doc.Paths[p] == nil {
			t.Errorf("path %s missing", p)
		}
	}
	data := doc.Components.Schemas["Collection_notes_Data"]
	if req, _ := json.Marshal(data["required"]); string(req) != `["title"]` {
		t.Errorf("notes data required = %s", req)
	}
	in2, _ := json.Marshal(doc.Components.Schemas["Function_hello_Input"])
	if !strings.Contains(string(in2), `"#/components/schemas/Function_hello_Input/$defs/Address"`) ||
		strings.Contains(string(in2), "$schema") {
		t.Errorf("hello input not rebased: %s", in2)
	}
	post, _ := json.Marshal(doc.Paths["/api/functions/hello"]["post"])
	if !strings.Contains(string(post), `"$ref":"#/components/schemas/Function_hello_Input"`) ||
		!strings.Contains(string(post), `"security":[]`) {
		t.Errorf("hello operation: %s", post)
	}
}

func TestOperationIDsUnique(t *testing.T) {
	seen := map[string]string{}
	for _, o := range routes() {
		id := operationID(o.method, o.path)
		if prev, dup := seen[id]; dup {
			t.Errorf("%s %s and %s share operationId %s", o.method, o.path, prev, id)
		}
		seen[id] = o.method + " " + o.path
	}
}
