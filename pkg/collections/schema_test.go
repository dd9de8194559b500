package collections

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseSchemaErrors(t *testing.T) {
	tests := []struct {
		name      string
		schema    string
		wantField string
		wantMsg   string
	}{
		{"not an object", `[1,2]`, "", "must be a JSON object"},
		{"null schema", `null`, "", "must be a JSON object"},
		{"invalid json", `{"fields": [`, "", "must be a JSON object"},
		{"fields not array", `{"fields": {"name": "a"}}`, "fields", "must be an array"},
		{"field not object", `{"fields": ["a"]}`, "fields[0]", "must be an object"},
		{"missing name", `{"fields": [{"type": "string"}]}`, "fields[0]", "name is required"},
		{"empty name", `{"fields": [{"name": ""}]}`, "fields[0]", "name is required"},
		{"name not string", `{"fields": [{"name": 5}]}`, "fields[0]", "name must be a string"},
		{"underscore name", `{"fields": [{"name": "_secret"}]}`, "fields[0]", "must not start with '_'"},
		{"duplicate names",
			`{"fields": [{"name": "a"}, {"name": "b"}, {"name": "a", "type": "int"}]}`, "a", "duplicate field name"},
		{"unknown type", `{"fields": [{"name": "a", "type": "text"}]}`, "a", `unknown type "text"`},
		{"unknown list item type", `{"fields": [{"name": "a", "type": "list[object]"}]}`, "a", "unknown type"},
		{"type not string", `{"fields": [{"name": "a", "type": 1}]}`, "a", "type must be a string"},
		{"bad regex",
			`{"fields": [{"name": "a", "pattern": "([a-z"}]}`, "a", "not a valid Go (RE2) regular expression"},
		{"lookahead is not RE2", `{"fields": [{"name": "a", "pattern": "(?=x)"}]}`, "a", "RE2"},
		{"min_length string",
			`{"fields": [{"name": "a", "min_length": "x"}]}`, "a", "min_length must be a non-negative integer"},
		{"max_length fraction",
			`{"fields": [{"name": "a", "max_length": 1.5}]}`, "a", "max_length must be a non-negative integer"},
		{"min_length negative", `{"fields": [{"name": "a", "min_length": -1}]}`, "a", "non-negative integer"},
		{"min not number", `{"fields": [{"name": "a", "type": "int", "min": "0"}]}`, "a", "min must be a number"},
		{"max out of range", `{"fields": [{"name": "a", "type": "int", "max": 1e999}]}`, "a", "max is out of range"},
		{"required not bool", `{"fields": [{"name": "a", "required": "yes"}]}`, "a", "required must be true or false"},
		{"unique not bool", `{"fields": [{"name": "a", "unique": 1}]}`, "a", "unique must be true or false"},
		{"pattern not string", `{"fields": [{"name": "a", "pattern": 3}]}`, "a", "pattern must be a string"},
		{"description not string",
			`{"fields": [{"name": "a", "description": []}]}`, "a", "description must be a string"},
		{"reference without collection", `{"fields": [{"name": "a", "type": "reference"}]}`, "a", "need a collection"},
		{"reference bad collection",
			`{"fields": [{"name": "a", "type": "reference", "collection": "Bad-Name"}]}`, "a", "not a valid collection name"},
		{"collection on string", `{"fields": [{"name": "a", "collection": "posts"}]}`, "a", "only to reference fields"},
		{"min on string", `{"fields": [{"name": "a", "min": 1}]}`, "a", "min and max apply only"},
		{"length on integer",
			`{"fields": [{"name": "a", "type": "integer", "max_length": 3}]}`, "a", "min_length and max_length apply only"},
		{"pattern on number",
			`{"fields": [{"name": "a", "type": "number", "pattern": "x"}]}`, "a", "pattern applies only"},
		{"min above max",
			`{"fields": [{"name": "a", "type": "number", "min": 5, "max": 1}]}`, "a", "min must not be greater than max"},
		{"min_length above max_length",
			`{"fields": [{"name": "a", "min_length": 5, "max_length": 1}]}`, "a", "min_length must not be greater"},
		{"default of wrong type",
			`{"fields": [{"name": "a", "type": "integer", "default": "x"}]}`, "a", "default: must be an integer"},
		{"default breaks constraint",
			`{"fields": [{"name": "a", "max_length": 2, "default": "abc"}]}`, "a", "default: must have at most 2 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema(json.RawMessage(tt.schema))
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSchema(%s) error = %v, want *SchemaError", tt.schema, err)
			}
			if se.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", se.Field, tt.wantField)
			}
			if !strings.Contains(se.Message, tt.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", se.Message, tt.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), "Invalid schema: ") {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), "Invalid schema: ")
			}
		})
	}
}

func TestParseSchemaTypes(t *testing.T) {
	tests := []struct {
		typ  string
		want string
	}{
		{"string", TypeString},
		{"STRING", TypeString},
		{" Float ", TypeNumber},
		{"number", TypeNumber},
		{"int", TypeInteger},
		{"Integer", TypeInteger},
		{"bool", TypeBoolean},
		{"boolean", TypeBoolean},
		{"array", TypeArray},
		{"list", TypeArray},
		{"list[string]", TypeListString},
		{"List[Int]", TypeListInteger},
		{"list[float]", TypeListNumber},
		{"list[bool]", TypeListBoolean},
		{"array[integer]", TypeListInteger},
		{"object", TypeObject},
		{"dict", TypeObject},
		{"date", TypeDate},
		{"DateTime", TypeDateTime},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"fields": []any{map[string]any{"name": "f", "type": tt.typ}}})
			s, err := ParseSchema(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Fields[0].Type; got != tt.want {
				t.Errorf("type %q parsed as %q, want %q", tt.typ, got, tt.want)
			}
			// The canonical name must itself parse to the same type.
			raw, _ = json.Marshal(map[string]any{"fields": []any{map[string]any{"name": "f", "type": tt.want}}})
			if s2, err := ParseSchema(raw); err != nil || s2.Fields[0].Type != tt.want {
				t.Errorf("canonical %q does not round-trip: %v", tt.want, err)
			}
		})
	}
}

func TestParseSchemaAccepted(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		check  func(t *testing.T, s Schema)
	}{
		{"empty input", ``, func(t *testing.T, s Schema) {
			if len(s.Fields) != 0 {
				t.Errorf("fields = %v", s.Fields)
			}
		}},
		{"no fields key", `{"title": "x"}`, func(t *testing.T, s Schema) {
			if s.Fields == nil || len(s.Fields) != 0 {
				t.Errorf("fields = %#v, want empty non-nil", s.Fields)
			}
		}},
		{"null options are absent",
			`{"fields": [{"name": "a", "type": null, "required": null, "min_length": null, "default": null}]}`,
			func(t *testing.T, s Schema) {
				f := s.Fields[0]
				if f.Type != TypeString || f.Required || f.MinLength != nil || f.Default != nil {
					t.Errorf("field = %+v", f)
				}
			}},
		{"unknown keys ignored",
			`{"fields": [{"name": "a", "index": true, "items": {}}], "extra": 1}`, func(t *testing.T, s Schema) {
				if len(s.Fields) != 1 {
					t.Errorf("fields = %v", s.Fields)
				}
			}},
		{"options decoded",
			`{"fields": [{"name": "n", "type": "int", "min": 0, "max": 10.5, "unique": true, "description": "d"},
			{"name": "s", "min_length": 1.0, "max_length": 5, "pattern": "^a"},
			{"name": "r", "type": "reference", "collection": "posts"}]}`, func(t *testing.T, s Schema) {
				n, str, r := s.Fields[0], s.Fields[1], s.Fields[2]
				if *n.Min != 0 || *n.Max != 10.5 || !n.Unique || n.Description != "d" {
					t.Errorf("n = %+v", n)
				}
				if *str.MinLength != 1 || *str.MaxLength != 5 || str.Pattern != "^a" {
					t.Errorf("s = %+v", str)
				}
				if r.Collection != "posts" {
					t.Errorf("r = %+v", r)
				}
			}},
		{"default normalised", `{"fields": [{"name": "n", "type": "integer", "default": "7"},
			{"name": "d", "type": "datetime", "default": "2024-01-02T03:04:05+01:00"}]}`, func(t *testing.T, s Schema) {
			if got := string(s.Fields[0].Default); got != "7" {
				t.Errorf("integer default = %s", got)
			}
			if got := string(s.Fields[1].Default); got != `"2024-01-02T02:04:05.000000Z"` {
				t.Errorf("datetime default = %s", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchema(json.RawMessage(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}
