package sdk

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

type node struct {
	Value    int     `json:"value"`
	Children []*node `json:"children,omitempty"`
}

type base struct {
	ID      string `json:"id"`
	Skipped string `json:"-"`
	private int
}

type extended struct {
	base
	*optionalPart
	Name  string            `json:"name"`
	Count uint8             `json:"count,string"`
	Tags  map[string]string `json:"tags,omitzero"`
	When  time.Time         `json:"when"`
	Blob  []byte            `json:"blob,omitempty"`
	Pair  [2]float64        `json:"pair,omitempty"`
	IP    net.IP            `json:"ip,omitempty"`
	Raw   json.RawMessage   `json:"raw,omitempty"`
	Any   any               `json:"any,omitempty"`
	NoTag bool
}

type optionalPart struct {
	Extra string `json:"extra"`
}

func TestSchema(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"any", reflect.TypeFor[any](), `null`},
		{"int", reflect.TypeFor[int](), `{"type":"integer"}`},
		{"uint", reflect.TypeFor[uint16](), `{"type":"integer","minimum":0}`},
		{"float", reflect.TypeFor[float32](), `{"type":"number"}`},
		{"string slice", reflect.TypeFor[[]string](), `{"type":"array","items":{"type":"string"}}`},
		{"map", reflect.TypeFor[map[string]bool](), `{"type":"object","additionalProperties":{"type":"boolean"}}`},
		{"pointer", reflect.TypeFor[*int](), `{"anyOf":[{"type":"integer"},{"type":"null"}]}`},
		{"empty struct", reflect.TypeFor[struct{}](), `{"type":"object","properties":{}}`},
		{"recursive", reflect.TypeFor[node](), `{"type":"object","title":"node","properties":{` +
			`"value":{"type":"integer"},"children":{"type":"array","items":{"anyOf":[` +
			`{"type":"object","title":"node"},{"type":"null"}]}}},"required":["value"]}`},
		{"embedded and options", reflect.TypeFor[extended](), `{"type":"object","title":"extended","properties":{` +
			`"id":{"type":"string"},"extra":{"type":"string"},"name":{"type":"string"},"count":{"type":"string"},` +
			`"tags":{"type":"object","additionalProperties":{"type":"string"}},` +
			`"when":{"type":"string","format":"date-time"},` +
			`"blob":{"type":"string","contentEncoding":"base64"},` +
			`"pair":{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":2},` +
			`"ip":{"type":"string"},"raw":{},"any":{},"NoTag":{"type":"boolean"}},` +
			`"required":["id","name","count","when","NoTag"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schemaDocument(tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want && !(got == nil && tt.want == "null") {
				t.Fatalf("schema\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSchemaRejectsUnsupportedTypes(t *testing.T) {
	type bad struct {
		Items []struct {
			C chan int `json:"c"`
		} `json:"items"`
	}
	_, err := schemaDocument(reflect.TypeFor[bad]())
	if err == nil || !strings.Contains(err.Error(), "field items[].c: unsupported type chan int") {
		t.Fatalf("err = %v", err)
	}
	_, err = schemaDocument(reflect.TypeFor[map[float64]int]())
	if err == nil || !strings.Contains(err.Error(), "map key") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodePayload(t *testing.T) {
	type item struct {
		N int8 `json:"n"`
	}
	type input struct {
		Name  string          `json:"name"`
		Age   *uint           `json:"age"`
		Items []item          `json:"items,omitempty"`
		Pair  [2]int          `json:"pair,omitempty"`
		ByID  map[int]float32 `json:"by_id,omitempty"`
		When  time.Time       `json:"when,omitzero"`
		Blob  []byte          `json:"blob,omitempty"`
		Count int             `json:"count,string,omitempty"`
		Flag  bool            `json:"flag,omitempty"`
	}
	tests := []struct {
		payload string
		want    string // error message; "" for success
	}{
		{`{"name":"a"}`, ""},
		{``, "Field 'name' is required"},
		{`{"name":"a","age":null,"items":[{"n":127}],"pair":[1,2],"by_id":{"7":1.5},` +
			`"when":"2024-01-02T03:04:05Z","blob":"aGk=","count":"12","flag":true}`, ""},
		{`null`, "Payload must be an object, got null"},
		{`{"name":null}`, "Field 'name' must be a string, got null"},
		{`{"name":1}`, "Field 'name' must be a string, got integer"},
		{`{"name":"a","age":-1}`, "Field 'age' must be an integer between 0 and 18446744073709551615, got -1"},
		{`{"name":"a","items":[{"n":1},{"n":128}]}`, "Field 'items[1].n' must be an integer between -128 and 127, got 128"},
		{`{"name":"a","items":[{}]}`, "Field 'items[0].n' is required"},
		{`{"name":"a","items":{}}`, "Field 'items' must be an array, got object"},
		{`{"name":"a","pair":[1]}`, "Field 'pair' must have 2 items, got 1"},
		{`{"name":"a","by_id":{"x":1}}`, `Field 'by_id' has key "x", which is not an integer key of type int`},
		{`{"name":"a","by_id":{"1":1e300}}`, "Field 'by_id.1' is out of range for float32, got 1e300"},
		{`{"name":"a","when":"yesterday"}`, `Field 'when' must be an RFC 3339 date-time, got "yesterday"`},
		{`{"name":"a","blob":"***"}`, "Field 'blob' must be base64-encoded: illegal base64 data at input byte 0"},
		{`{"name":"a","count":12}`, "Field 'count' must be a string, got integer"},
		{`{"name":"a","count":"x"}`, "Payload does not match the input type: " +
			`json: invalid use of ,string struct tag, trying to unmarshal "x" into int`},
		{`{"name":"a","flag":"yes"}`, "Field 'flag' must be a boolean, got string"},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			var v input
			err := decodePayload(json.RawMessage(tt.payload), reflect.TypeFor[input](), &v)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("error %v, want %q", err, tt.want)
			case err != nil && errorType(err) != ErrorTypeValidation:
				t.Fatalf("error type %q", errorType(err))
			}
		})
	}
}

func TestDecodePayloadAny(t *testing.T) {
	var v any
	if err := decodePayload(json.RawMessage(`[1,"a"]`), reflect.TypeFor[any](), &v); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v) != "[1 a]" {
		t.Fatalf("v = %v", v)
	}
}

type codedError struct{ code int }

func (e codedError) Error() string { return "code " + strconv.Itoa(e.code) }

func TestErrorType(t *testing.T) {
	_, numErr := strconv.Atoi("x")
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("plain"), "Error"},
		{numErr, "NumError"},
		{fmt.Errorf("parse: %w", numErr), "NumError"},
		{Errorf("Conflict", "taken"), "Conflict"},
		{fmt.Errorf("wrapped: %w", Errorf("Conflict", "taken")), "Conflict"},
		{&Error{Message: "untyped"}, "Error"},
		{codedError{1}, "Error"},
		{&APIError{Status: 404, Detail: "x"}, "APIError"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%#v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
