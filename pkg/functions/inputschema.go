package functions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// FieldError is one way a payload does not fit a function's input schema.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maxFieldErrors caps how many problems one validation reports.
const maxFieldErrors = 50

// maxSchemaDepth bounds $ref and nesting recursion so a self-referencing
// schema cannot loop.
const maxSchemaDepth = 64

// ValidateInput checks payload against a function's declared input schema
// before the call is dispatched, so a malformed call is refused with field
// errors instead of costing a worker a process round trip.
//
// It implements the part of JSON Schema (2020-12) that the SDKs emit and
// that decides validity of plain JSON data: type, enum, const, properties,
// required, additionalProperties, items, min/maxItems, min/maxLength (in
// code points), pattern (RE2), minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, anyOf, oneOf, allOf, not, and local $ref to $defs or
// definitions. Other keywords (format, title, default, …) are ignored, so a
// schema using them validates at least as permissively as a full
// validator. A missing or null schema accepts everything.
func ValidateInput(schema, payload json.RawMessage) ([]FieldError, error) {
	if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
		return nil, nil
	}
	root, err := decodeNumbers(schema)
	if err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	data, err := decodeNumbers(payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	v := &validator{root: root}
	v.check(data, root, "", 0)
	return v.errs, nil
}

func decodeNumbers(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

type validator struct {
	root any
	errs []FieldError
}

func (v *validator) add(path, code, format string, a ...any) {
	if len(v.errs) >= maxFieldErrors {
		return
	}
	field := path
	if field == "" {
		field = "(payload)"
	}
	v.errs = append(v.errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, a...)})
}

// valid reports whether data fits schema, without recording errors.
func (v *validator) valid(data, schema any, path string, depth int) bool {
	sub := &validator{root: v.root}
	sub.check(data, schema, path, depth)
	return len(sub.errs) == 0
}

func (v *validator) check(data, schemaAny any, path string, depth int) {
	if depth > maxSchemaDepth {
		v.add(path, "schema", "schema nesting too deep")
		return
	}
	switch s := schemaAny.(type) {
	case bool:
		if !s {
			v.add(path, "not_allowed", "no value is allowed here")
		}
		return
	case map[string]any:
		v.checkObject(data, s, path, depth)
	}
}

func (v *validator) checkObject(data any, s map[string]any, path string, depth int) {
	if ref, ok := s["$ref"].(string); ok {
		target, err := v.resolve(ref)
		if err != nil {
			v.add(path, "schema", "%v", err)
			return
		}
		v.check(data, target, path, depth+1)
	}
	if t, ok := s["type"]; ok && !matchesType(data, t) {
		v.add(path, "type", "must be %s, got %s", typeNames(t), jsonType(data))
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if jsonEqual(e, data) {
				found = true
				break
			}
		}
		if !found {
			v.add(path, "enum", "must be one of %s", compact(enum))
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, data) {
		v.add(path, "const", "must be %s", compact(c))
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		branches, ok := s[key].([]any)
		if !ok {
			continue
		}
		n := 0
		for _, b := range branches {
			if v.valid(data, b, path, depth+1) {
				n++
			}
		}
		switch {
		case n == 0:
			// Explain the failure through the one branch of the data's
			// own type, if there is one (the array branch of an optional
			// list, say); otherwise only say that nothing matched.
			if b := v.closestBranch(data, branches); b != nil {
				v.check(data, b, path, depth+1)
			} else {
				v.add(path, "type", "does not match any allowed form")
			}
		case key == "oneOf" && n > 1:
			v.add(path, "one_of", "matches more than one allowed form")
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, b := range all {
			v.check(data, b, path, depth+1)
		}
	}
	if not, ok := s["not"]; ok && v.valid(data, not, path, depth+1) {
		v.add(path, "not", "is not allowed")
	}
	switch d := data.(type) {
	case map[string]any:
		v.checkProperties(d, s, path, depth)
	case []any:
		v.checkItems(d, s, path, depth)
	case string:
		n := utf8.RuneCountInString(d)
		if m, ok := number(s["minLength"]); ok && float64(n) < m {
			v.add(path, "min_length", "must have at least %s characters", fmtNum(m))
		}
		if m, ok := number(s["maxLength"]); ok && float64(n) > m {
			v.add(path, "max_length", "must have at most %s characters", fmtNum(m))
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := compilePattern(p)
			if err != nil {
				v.add(path, "schema", "pattern %q is not a valid regular expression", p)
			} else if !re.MatchString(d) {
				v.add(path, "pattern", "must match %s", p)
			}
		}
	case json.Number:
		v.checkNumber(d, s, path)
	}
}

// closestBranch returns the only branch whose type admits data, or nil.
func (v *validator) closestBranch(data any, branches []any) any {
	var found any
	count := 0
	for _, b := range branches {
		m, ok := b.(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := m["$ref"].(string); ok {
			if target, err := v.resolve(ref); err == nil {
				if tm, ok := target.(map[string]any); ok {
					m = tm
				}
			}
		}
		if t, ok := m["type"]; !ok || matchesType(data, t) {
			found = b
			count++
		}
	}
	if count == 1 {
		return found
	}
	return nil
}

func (v *validator) checkProperties(d map[string]any, s map[string]any, path string, depth int) {
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			name, _ := r.(string)
			if _, present := d[name]; !present {
				v.add(join(path, name), "required", "is required")
			}
		}
	}
	for k, val := range d {
		if ps, ok := props[k]; ok {
			v.check(val, ps, join(path, k), depth+1)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				v.add(join(path, k), "unknown_field", "is not an allowed field")
			}
		case map[string]any:
			v.check(val, ap, join(path, k), depth+1)
		}
	}
}

func (v *validator) checkItems(d []any, s map[string]any, path string, depth int) {
	if m, ok := number(s["minItems"]); ok && float64(len(d)) < m {
		v.add(path, "min_items", "must have at least %s items", fmtNum(m))
	}
	if m, ok := number(s["maxItems"]); ok && float64(len(d)) > m {
		v.add(path, "max_items", "must have at most %s items", fmtNum(m))
	}
	if items, ok := s["items"]; ok {
		for i, e := range d {
			v.check(e, items, fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	}
}

func (v *validator) checkNumber(n json.Number, s map[string]any, path string) {
	val, ok := new(big.Float).SetString(n.String())
	if !ok {
		return
	}
	cmp := func(key string) (int, bool) {
		bound, ok := s[key].(json.Number)
		if !ok {
			return 0, false
		}
		b, ok := new(big.Float).SetString(bound.String())
		if !ok {
			return 0, false
		}
		return val.Cmp(b), true
	}
	if c, ok := cmp("minimum"); ok && c < 0 {
		v.add(path, "min", "must be at least %s", s["minimum"])
	}
	if c, ok := cmp("maximum"); ok && c > 0 {
		v.add(path, "max", "must be at most %s", s["maximum"])
	}
	if c, ok := cmp("exclusiveMinimum"); ok && c <= 0 {
		v.add(path, "min", "must be greater than %s", s["exclusiveMinimum"])
	}
	if c, ok := cmp("exclusiveMaximum"); ok && c >= 0 {
		v.add(path, "max", "must be less than %s", s["exclusiveMaximum"])
	}
}

func (v *validator) resolve(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, fmt.Errorf("only local $ref is supported, got %q", ref)
	}
	cur := v.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#"), "/") {
		if part == "" {
			continue
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func matchesType(data, t any) bool {
	switch tt := t.(type) {
	case string:
		return isType(data, tt)
	case []any:
		for _, x := range tt {
			if s, ok := x.(string); ok && isType(data, s) {
				return true
			}
		}
		return false
	}
	return true
}

func isType(data any, t string) bool {
	switch t {
	case "object":
		_, ok := data.(map[string]any)
		return ok
	case "array":
		_, ok := data.([]any)
		return ok
	case "string":
		_, ok := data.(string)
		return ok
	case "boolean":
		_, ok := data.(bool)
		return ok
	case "null":
		return data == nil
	case "number":
		_, ok := data.(json.Number)
		return ok
	case "integer":
		n, ok := data.(json.Number)
		if !ok {
			return false
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return true
		}
		f, ok := new(big.Float).SetString(n.String())
		return ok && f.IsInt()
	}
	return true
}

func typeNames(t any) string {
	switch tt := t.(type) {
	case string:
		return article(tt)
	case []any:
		var names []string
		for _, x := range tt {
			names = append(names, fmt.Sprint(x))
		}
		return "one of " + strings.Join(names, ", ")
	}
	return fmt.Sprint(t)
}

func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

func jsonType(data any) string {
	switch d := data.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case json.Number:
		if isType(d, "integer") {
			return "an integer"
		}
		return "a number"
	}
	return "an unknown value"
}

func jsonEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		x, ok1 := new(big.Float).SetString(an.String())
		y, ok2 := new(big.Float).SetString(bn.String())
		return ok1 && ok2 && x.Cmp(y) == 0
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var patternCache sync.Map // string -> *regexp.Regexp

func compilePattern(p string) (*regexp.Regexp, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	patternCache.Store(p, re)
	return re, nil
}
