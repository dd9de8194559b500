package sdk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// decodePayload checks payload against t, the type of *dst, and decodes it
// into dst. encoding/json alone would accept a payload with missing fields
// or turn null into zero values; the check first makes such a payload fail
// with a ValidationError that names the field, the way the Python SDK and
// the declared schema do. Unknown keys are ignored.
func decodePayload(payload json.RawMessage, t reflect.Type, dst any) error {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	if t.Kind() != reflect.Interface {
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return validationError("Payload is not valid JSON: %v", err)
		}
		if err := check(v, t, ""); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return typeError(te.Field, expected(te.Type), te.Value)
		}
		return validationError("Payload does not match the input type: %v", err)
	}
	return nil
}

// check reports the first place where the decoded JSON value v (numbers as
// json.Number) does not fit type t.
func check(v any, t reflect.Type, path string) error {
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return nil
		}
		return check(v, t.Elem(), path)
	}
	switch {
	case t == rawMessageType:
		return nil
	case t == timeType:
		s, ok := v.(string)
		if !ok {
			return typeError(path, "a date-time string", jsonType(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return invalid(path, "must be an RFC 3339 date-time, got %q", s)
		}
		return nil
	case t == numberType:
		if _, ok := v.(json.Number); !ok {
			return typeError(path, "a number", jsonType(v))
		}
		return nil
	case implements(t, unmarshalerType):
		// The type decodes itself; json.Unmarshal reports what it rejects.
		return nil
	case implements(t, textUnmarshType):
		if _, ok := v.(string); !ok {
			return typeError(path, "a string", jsonType(v))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return typeError(path, "a boolean", jsonType(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return checkInteger(v, t, path)
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return typeError(path, "a number", jsonType(v))
		}
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			return invalid(path, "is out of range for %s, got %s", t.Kind(), n)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return typeError(path, "a string", jsonType(v))
		}
	case reflect.Slice, reflect.Array:
		return checkArray(v, t, path)
	case reflect.Map:
		return checkMap(v, t, path)
	case reflect.Struct:
		return checkStruct(v, t, path)
	default:
		return invalid(path, "has an unsupported type %s", t)
	}
	return nil
}

func checkInteger(v any, t reflect.Type, path string) error {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return typeError(path, "an integer", jsonType(v))
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			lim := int64(1)<<(t.Bits()-1) - 1
			return invalid(path, "must be an integer between %d and %d, got %s", -lim-1, lim, n)
		}
	default:
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			return invalid(path, "must be an integer between 0 and %d, got %s", ^uint64(0)>>(64-t.Bits()), n)
		}
	}
	return nil
}

func checkArray(v any, t reflect.Type, path string) error {
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		s, ok := v.(string)
		if !ok {
			return typeError(path, "a base64 string", jsonType(v))
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return invalid(path, "must be base64-encoded: %v", err)
		}
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		return typeError(path, "an array", jsonType(v))
	}
	if t.Kind() == reflect.Array && len(items) != t.Len() {
		return invalid(path, "must have %d items, got %d", t.Len(), len(items))
	}
	for i, item := range items {
		if err := check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func checkMap(v any, t reflect.Type, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return typeError(path, "an object", jsonType(v))
	}
	for key, val := range m {
		if t.Key().Kind() != reflect.String && !implements(t.Key(), textUnmarshType) {
			if err := checkInteger(json.Number(key), t.Key(), join(path, key)); err != nil {
				return invalid(path, "has key %q, which is not an integer key of type %s", key, t.Key())
			}
		}
		if err := check(val, t.Elem(), join(path, key)); err != nil {
			return err
		}
	}
	return nil
}

func checkStruct(v any, t reflect.Type, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return typeError(path, "an object", jsonType(v))
	}
	for _, f := range jsonFields(t) {
		val, present := m[f.name]
		at := join(path, f.name)
		switch {
		case !present:
			if f.required {
				return validationError("Field '%s' is required", at)
			}
		case f.asString:
			if val == nil && f.typ.Kind() == reflect.Pointer {
				continue
			}
			if _, ok := val.(string); !ok {
				return typeError(at, "a string", jsonType(val))
			}
		default:
			if err := check(val, f.typ, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// typeError is the message for a value of the wrong JSON type.
func typeError(path, want, got string) *Error {
	if path == "" {
		return validationError("Payload must be %s, got %s", want, got)
	}
	return validationError("Field '%s' must be %s, got %s", path, want, got)
}

// invalid is the message for a value of the right JSON type that still
// does not fit, such as an integer out of range.
func invalid(path, format string, args ...any) *Error {
	subject := "Payload"
	if path != "" {
		subject = "Field '" + path + "'"
	}
	return validationError("%s %s", subject, fmt.Sprintf(format, args...))
}

// jsonType names the JSON type of a decoded value: an integral number
// literal is an integer, any other a number.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "number"
		}
		return "integer"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// expected names the JSON form of Go type t for messages.
func expected(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}
