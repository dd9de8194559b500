package collections

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustSchema(t testing.TB, raw string) Schema {
	t.Helper()
	s, err := ParseSchema(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("ParseSchema(%s): %v", raw, err)
	}
	return s
}

// errorKeys renders a validation error as "field:code" entries.
func errorKeys(t testing.TB, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error = %v, want *ValidationError", err)
	}
	var keys []string
	for _, fe := range verr.Errors {
		keys = append(keys, fe.Field+":"+fe.Code)
	}
	return keys
}

func TestValidate(t *testing.T) {
	const (
		intSchema  = `{"fields": [{"name": "n", "type": "integer"}]}`
		numSchema  = `{"fields": [{"name": "x", "type": "number"}]}`
		boolSchema = `{"fields": [{"name": "b", "type": "bool"}]}`
		strSchema  = `{"fields": [{"name": "s", "type": "string"}]}`
		dateSchema = `{"fields": [{"name": "d", "type": "date"}, {"name": "t", "type": "datetime"}]}`
	)
	tests := []struct {
		name     string
		schema   string
		data     string
		want     string   // normalised output, when valid
		wantErrs []string // "field:code", when invalid
	}{
		// Integers stay exact and accept the lax forms.
		{"int64 beyond float precision", intSchema, `{"n": 9007199254740993}`, `{"n":9007199254740993}`, nil},
		{"int64 max", intSchema, `{"n": 9223372036854775807}`, `{"n":9223372036854775807}`, nil},
		{"int64 min", intSchema, `{"n": -9223372036854775808}`, `{"n":-9223372036854775808}`, nil},
		{"int64 overflow", intSchema, `{"n": 9223372036854775808}`, "", []string{"n:type"}},
		{"int from string", intSchema, `{"n": "5"}`, `{"n":5}`, nil},
		{"big int from string", intSchema, `{"n": " 9007199254740993 "}`, `{"n":9007199254740993}`, nil},
		{"int from 5.0", intSchema, `{"n": 5.0}`, `{"n":5}`, nil},
		{"int from exponent", intSchema, `{"n": 1.5e3}`, `{"n":1500}`, nil},
		{"int rejects fraction", intSchema, `{"n": 5.5}`, "", []string{"n:type"}},
		{"int rejects fraction string", intSchema, `{"n": "5.5"}`, "", []string{"n:type"}},
		{"int rejects word", intSchema, `{"n": "five"}`, "", []string{"n:type"}},
		{"int rejects bool", intSchema, `{"n": true}`, "", []string{"n:type"}},
		{"int huge exponent", intSchema, `{"n": 1e999999999999}`, "", []string{"n:type"}},
		{"int zero with huge exponent", intSchema, `{"n": 0e999999999999}`, `{"n":0}`, nil},

		// Numbers are stored as JSON numbers.
		{"number from int", numSchema, `{"x": 5}`, `{"x":5}`, nil},
		{"number from string", numSchema, `{"x": "2.5"}`, `{"x":2.5}`, nil},
		{"number overflow", numSchema, `{"x": 1e400}`, "", []string{"x:type"}},
		{"number rejects bool", numSchema, `{"x": false}`, "", []string{"x:type"}},

		// Booleans accept TinyBase's lax forms.
		{"bool true", boolSchema, `{"b": true}`, `{"b":true}`, nil},
		{"bool 0", boolSchema, `{"b": 0}`, `{"b":false}`, nil},
		{"bool 1", boolSchema, `{"b": 1}`, `{"b":true}`, nil},
		{"bool yes", boolSchema, `{"b": "YES"}`, `{"b":true}`, nil},
		{"bool off", boolSchema, `{"b": "off"}`, `{"b":false}`, nil},
		{"bool f", boolSchema, `{"b": "f"}`, `{"b":false}`, nil},
		{"bool rejects 2", boolSchema, `{"b": 2}`, "", []string{"b:type"}},
		{"bool rejects maybe", boolSchema, `{"b": "maybe"}`, "", []string{"b:type"}},

		// Strings.
		{"string kept", strSchema, `{"s": "a<b>&c"}`, `{"s":"a<b>&c"}`, nil},
		{"string rejects number", strSchema, `{"s": 5}`, "", []string{"s:type"}},
		{"code points not bytes",
			`{"fields": [{"name": "s", "min_length": 3, "max_length": 3}]}`, `{"s": "h\u00e9\ud83d\ude00"}`,
			`{"s":"hé😀"}`, nil},
		{"too short in code points",
			`{"fields": [{"name": "s", "min_length": 4}]}`, `{"s": "h\u00e9\ud83d\ude00"}`, "", []string{"s:min_length"}},
		{"too long", `{"fields": [{"name": "s", "max_length": 2}]}`, `{"s": "abc"}`, "", []string{"s:max_length"}},
		{"pattern is a search", `{"fields": [{"name": "s", "pattern": "b+"}]}`, `{"s": "abbbc"}`, `{"s":"abbbc"}`, nil},
		{"pattern anchored",
			`{"fields": [{"name": "s", "pattern": "^b+$"}]}`, `{"s": "abbbc"}`, "", []string{"s:pattern"}},

		// Numbers' bounds are inclusive and exact for integers.
		{"min inclusive", `{"fields": [{"name": "n", "type": "int", "min": 1, "max": 3}]}`, `{"n": 1}`, `{"n":1}`, nil},
		{"max inclusive", `{"fields": [{"name": "n", "type": "int", "min": 1, "max": 3}]}`, `{"n": 3}`, `{"n":3}`, nil},
		{"below min", `{"fields": [{"name": "n", "type": "int", "min": 1}]}`, `{"n": 0}`, "", []string{"n:min"}},
		{"above max", `{"fields": [{"name": "x", "type": "number", "max": 1.5}]}`, `{"x": 1.6}`, "", []string{"x:max"}},
		{"exact int bound", `{"fields": [{"name": "n", "type": "int", "max": 9007199254740992}]}`,
			`{"n": 9007199254740993}`, "", []string{"n:max"}},

		// Required means present and not null; zero values are values.
		{"required zero values",
			`{"fields": [{"name": "n", "type": "int", "required": true}, {"name": "b", "type": "bool", "required": true},
			 {"name": "s", "required": true}, {"name": "l", "type": "array", "required": true}]}`,
			`{"n": 0, "b": false, "s": "", "l": []}`, `{"n":0,"b":false,"s":"","l":[]}`, nil},
		{"required missing and null",
			`{"fields": [{"name": "a", "required": true}, {"name": "b", "required": true, "default": "x"}]}`,
			`{"b": null}`, "", []string{"a:required", "b:required"}},

		// Defaults and absent fields.
		{"defaults fill absent",
			`{"fields": [{"name": "n", "type": "int", "default": 3}, {"name": "tags", "type": "array", "default": ["x"]}]}`,
			`{}`, `{"n":3,"tags":["x"]}`, nil},
		{"absent without default",
			`{"fields": [{"name": "s"}, {"name": "l", "type": "list[int]"}, {"name": "a", "type": "list"},
			 {"name": "o", "type": "dict"}, {"name": "d", "type": "date"}, {"name": "m", "type": "array", "min_length": 1}]}`,
			`{}`, `{"s":null,"l":[],"a":[],"o":{},"d":null,"m":null}`, nil},
		{"explicit null allowed",
			`{"fields": [{"name": "s"}, {"name": "l", "type": "array"}, {"name": "o", "type": "object"}]}`,
			`{"s": null, "l": null, "o": null}`, `{"s":null,"l":null,"o":null}`, nil},
		{"explicit null with default rejected", `{"fields": [{"name": "s", "default": "x"}]}`, `{"s": null}`, "",
			[]string{"s:type"}},

		// Unknown keys are dropped; output follows schema order.
		{"unknown keys dropped", `{"fields": [{"name": "b"}, {"name": "a"}]}`, `{"a": "1", "z": 2, "b": "2"}`,
			`{"b":"2","a":"1"}`, nil},
		{"no fields stores empty", `{"fields": []}`, `{"a": 1}`, `{}`, nil},
		{"data must be an object", strSchema, `[1]`, "", []string{":type"}},

		// Dates and date-times are normalised.
		{"date and datetime",
			dateSchema, `{"d": "2024-02-29", "t": "2024-02-29T23:30:00.1234567-02:00"}`,
			`{"d":"2024-02-29","t":"2024-03-01T01:30:00.123456Z"}`, nil},
		{"date from midnight datetime",
			dateSchema, `{"d": "2024-05-01T00:00:00+05:00"}`, `{"d":"2024-05-01","t":null}`, nil},
		{"date rejects time of day", dateSchema, `{"d": "2024-05-01T10:00:00Z"}`, "", []string{"d:format"}},
		{"datetime from date", dateSchema, `{"t": "2024-05-01"}`, `{"d":null,"t":"2024-05-01T00:00:00.000000Z"}`, nil},
		{"naive datetime is utc",
			dateSchema, `{"t": "2024-05-01 10:11:12"}`, `{"d":null,"t":"2024-05-01T10:11:12.000000Z"}`, nil},
		{"impossible date", dateSchema, `{"d": "2023-02-29"}`, "", []string{"d:format"}},
		{"date not string", dateSchema, `{"d": 20240101}`, "", []string{"d:type"}},
		{"garbage datetime", dateSchema, `{"t": "yesterday"}`, "", []string{"t:format"}},

		// Lists.
		{"typed list coerced",
			`{"fields": [{"name": "l", "type": "list[int]"}]}`, `{"l": [1, "2", 3.0]}`, `{"l":[1,2,3]}`, nil},
		{"typed list bad item",
			`{"fields": [{"name": "l", "type": "list[int]"}]}`, `{"l": [1, "x"]}`, "", []string{"l[1]:type"}},
		{"list length",
			`{"fields": [{"name": "l", "type": "array", "max_length": 1}]}`, `{"l": [1, 2]}`, "", []string{"l:max_length"}},
		{"list not array", `{"fields": [{"name": "l", "type": "list[string]"}]}`, `{"l": "a"}`, "", []string{"l:type"}},
		{"object kept",
			`{"fields": [{"name": "o", "type": "object"}]}`, `{"o": {"b": 1, "a": [true]}}`, `{"o":{"b":1,"a":[true]}}`, nil},
		{"object rejects array", `{"fields": [{"name": "o", "type": "object"}]}`, `{"o": []}`, "", []string{"o:type"}},

		// References are only type-checked by Validate.
		{"reference string",
			`{"fields": [{"name": "r", "type": "reference", "collection": "x"}]}`, `{"r": "abc"}`, `{"r":"abc"}`, nil},
		{"reference not string",
			`{"fields": [{"name": "r", "type": "reference", "collection": "x"}]}`, `{"r": 5}`, "", []string{"r:type"}},

		// Every problem is reported, in schema order.
		{"all errors",
			`{"fields": [{"name": "a", "type": "int"}, {"name": "b", "required": true}, {"name": "c", "type": "bool"}]}`,
			`{"a": "x", "c": "maybe"}`, "", []string{"a:type", "b:required", "c:type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchema(t, tt.schema)
			got, err := s.Validate(json.RawMessage(tt.data))
			if tt.wantErrs != nil {
				if keys := errorKeys(t, err); !slices.Equal(keys, tt.wantErrs) {
					t.Fatalf("errors = %v, want %v", keys, tt.wantErrs)
				}
				if !strings.HasPrefix(err.Error(), "Validation error: ") {
					t.Errorf("Error() = %q", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("Validate = %s, want %s", got, tt.want)
			}
			again, err := s.Validate(got)
			if err != nil || string(again) != string(got) {
				t.Fatalf("validating the output again = %s, %v; want it unchanged", again, err)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	s := mustSchema(t, `{"fields": [{"name": "title", "required": true}, {"name": "n", "type": "int", "max": 3}]}`)
	_, err := s.Validate(json.RawMessage(`{"n": 4}`))
	want := "Validation error: title: is required; n: must be at most 3"
	if err == nil || err.Error() != want {
		t.Fatalf("Error() = %v, want %q", err, want)
	}
}
