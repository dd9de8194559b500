package functions

import (
	"encoding/json"
	"strings"
	"testing"
)

const addSchema = `{"type":"object","title":"AddInput","properties":{"x":{"type":"integer"},"y":{"type":"integer"},
"note":{"anyOf":[{"type":"string"},{"type":"null"}],"default":null},
"items":{"anyOf":[{"type":"array","items":{"$ref":"#/$defs/Item"}},{"type":"null"}]}},
"required":["x","y"],
"$defs":{"Item":{"type":"object","properties":{"sku":{"type":"string","minLength":2,"pattern":"^[A-Z]"},"qty":{"type":"integer","minimum":1}},"required":["sku"],"additionalProperties":false}}}`

func TestValidateInput(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		payload string
		want    []string // "field:code"
	}{
		{"ok", addSchema, `{"x":1,"y":2}`, nil},
		{"integral float is an integer", addSchema, `{"x":1.0,"y":2}`, nil},
		{"huge integer", addSchema, `{"x":9007199254740993,"y":2}`, nil},
		{"string for integer", addSchema, `{"x":"a","y":2}`, []string{"x:type"}},
		{"fraction for integer", addSchema, `{"x":1.5,"y":2}`, []string{"x:type"}},
		{"missing", addSchema, `{"x":1}`, []string{"y:required"}},
		{"optional null", addSchema, `{"x":1,"y":2,"note":null}`, nil},
		{"optional wrong", addSchema, `{"x":1,"y":2,"note":5}`, []string{"note:type"}},
		{"nested via ref", addSchema, `{"x":1,"y":2,"items":[{"sku":"AB","qty":0},{"qty":2,"extra":1}]}`,
			[]string{"items[0].qty:min", "items[1].sku:required", "items[1].extra:unknown_field"}},
		{"pattern and length in code points", addSchema, `{"x":1,"y":2,"items":[{"sku":"ab"},{"sku":"É"}]}`,
			[]string{"items[0].sku:pattern", "items[1].sku:min_length", "items[1].sku:pattern"}},
		{"not an object", addSchema, `[1]`, []string{"(payload):type"}},
		{"no schema", `null`, `{"anything":true}`, nil},
		{"enum", `{"enum":["a","b"]}`, `"c"`, []string{"(payload):enum"}},
		{"oneOf both", `{"oneOf":[{"type":"integer"},{"type":"number"}]}`, `1`, []string{"(payload):one_of"}},
		{"bad ref", `{"$ref":"#/$defs/missing"}`, `1`, []string{"(payload):schema"}},
		{"self ref stops", `{"$ref":"#"}`, `1`, []string{"(payload):schema"}},
		{"exclusive bounds", `{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}`, `1`, []string{"(payload):max"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := ValidateInput(json.RawMessage(tc.schema), json.RawMessage(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, e := range errs {
				got[e.Field+":"+e.Code] = true
				if e.Message == "" {
					t.Errorf("empty message for %s", e.Field)
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("missing %s in %v", w, errs)
				}
			}
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Errorf("unexpected errors %v", errs)
			}
		})
	}
}

func TestValidateInputBadSchema(t *testing.T) {
	if _, err := ValidateInput(json.RawMessage(`{"type":`), json.RawMessage(`{}`)); err == nil ||
		!strings.Contains(err.Error(), "input schema") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzValidateInput(f *testing.F) {
	f.Add(addSchema, `{"x":1,"y":2}`)
	f.Add(`{"$ref":"#"}`, `[]`)
	f.Add(`{"items":{"items":{"type":"string"}}}`, `[[1,"a"]]`)
	f.Fuzz(func(t *testing.T, schema, payload string) {
		if !json.Valid([]byte(schema)) || !json.Valid([]byte(payload)) {
			return
		}
		errs, err := ValidateInput(json.RawMessage(schema), json.RawMessage(payload))
		if err == nil && len(errs) > maxFieldErrors {
			t.Fatalf("%d errors", len(errs))
		}
	})
}
