package collections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Canonical field types. ParseSchema accepts the aliases listed in
// typeAliases, in any letter case, and stores the canonical name in Field.Type.
const (
	TypeString      = "string"
	TypeNumber      = "number"
	TypeInteger     = "integer"
	TypeBoolean     = "boolean"
	TypeArray       = "array"
	TypeObject      = "object"
	TypeDate        = "date"
	TypeDateTime    = "datetime"
	TypeReference   = "reference"
	TypeListString  = "list[string]"
	TypeListInteger = "list[integer]"
	TypeListNumber  = "list[number]"
	TypeListBoolean = "list[boolean]"
)

var typeAliases = map[string]string{
	"string":    TypeString,
	"number":    TypeNumber,
	"float":     TypeNumber,
	"integer":   TypeInteger,
	"int":       TypeInteger,
	"boolean":   TypeBoolean,
	"bool":      TypeBoolean,
	"array":     TypeArray,
	"list":      TypeArray,
	"object":    TypeObject,
	"dict":      TypeObject,
	"date":      TypeDate,
	"datetime":  TypeDateTime,
	"reference": TypeReference,
}

// canonicalType resolves a type name or alias. Typed lists are written
// list[T] or array[T] with T one of the scalar types string, number, integer
// or boolean (or their aliases).
func canonicalType(s string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(s))
	if c, ok := typeAliases[t]; ok {
		return c, true
	}
	inner, ok := strings.CutSuffix(t, "]")
	if !ok {
		return "", false
	}
	if rest, ok := strings.CutPrefix(inner, "list["); ok {
		inner = rest
	} else if rest, ok := strings.CutPrefix(inner, "array["); ok {
		inner = rest
	} else {
		return "", false
	}
	switch elem := typeAliases[strings.TrimSpace(inner)]; elem {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean:
		return "list[" + elem + "]", true
	}
	return "", false
}

// Schema is a parsed collection schema: the list of record fields.
type Schema struct {
	Fields []Field `json:"fields"`
}

// Field describes one record field. ParseSchema fills it with the canonical
// type and, when a default is given, the default in its normalised form.
type Field struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Required bool            `json:"required,omitempty"`
	Default  json.RawMessage `json:"default,omitempty"`
	// Min and Max are inclusive bounds for number and integer fields.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// MinLength and MaxLength bound a string's length in Unicode code points,
	// or an array's number of items.
	MinLength *int `json:"min_length,omitempty"`
	MaxLength *int `json:"max_length,omitempty"`
	// Pattern is a Go (RE2) regular expression that string values must
	// contain a match for; anchor it with ^ and $ to match the whole value.
	Pattern string `json:"pattern,omitempty"`
	// Collection is the target collection of a reference field.
	Collection string `json:"collection,omitempty"`
	// OnDelete is what deleting a referenced record does to records whose
	// reference field points at it: OnDeleteRestrict (the default) refuses
	// the delete, OnDeleteCascade deletes them too, OnDeleteSetNull sets the
	// field to null. Reference fields only.
	OnDelete string `json:"on_delete,omitempty"`
	// Unique makes two records of the collection never hold the same
	// non-null value in the field, enforced by a SQLite unique index.
	Unique bool `json:"unique,omitempty"`
	// Index asks for a (non-unique) SQLite index on the field, for fast
	// filters and sorts. Unique and reference fields are always indexed.
	Index       bool   `json:"index,omitempty"`
	Description string `json:"description,omitempty"`

	re *regexp.Regexp
	// absent is the value stored when the field is missing from the input,
	// is not required and has no default.
	absent json.RawMessage
}

func (f *Field) isList() bool { return f.Type == TypeArray || strings.HasPrefix(f.Type, "list[") }

// elemType returns the item type of a typed list, or "" for any other type.
func (f *Field) elemType() string {
	if t, ok := strings.CutPrefix(f.Type, "list["); ok {
		return strings.TrimSuffix(t, "]")
	}
	return ""
}

func (f *Field) isStringLike() bool {
	switch f.Type {
	case TypeString, TypeDate, TypeDateTime, TypeReference:
		return true
	}
	return false
}

// On-delete policies of reference fields.
const (
	OnDeleteRestrict = "restrict"
	OnDeleteCascade  = "cascade"
	OnDeleteSetNull  = "set_null"
)

var collectionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseSchema parses and checks a collection schema of the form
// {"fields": [...]}. A missing or null "fields" means no fields; other
// top-level keys and unknown field keys are ignored, as in TinyBase.
// Everything else that is wrong yields a *SchemaError: an unknown type, a
// pattern that is not valid Go (RE2) syntax, an empty, "_"-prefixed or
// duplicate name, an option of the wrong JSON type or not applicable to the
// field's type, contradictory bounds, a reference without collection, or a
// default that the field itself would reject.
func ParseSchema(raw json.RawMessage) (Schema, error) {
	s := Schema{Fields: []Field{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return Schema{}, &SchemaError{Message: "schema must be a JSON object"}
	}
	var items []json.RawMessage
	if v, ok := top["fields"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &items); err != nil {
			return Schema{}, &SchemaError{Field: "fields", Message: "must be an array of field objects"}
		}
	}
	seen := make(map[string]bool, len(items))
	for i, item := range items {
		f, err := parseField(i, item)
		if err != nil {
			return Schema{}, err
		}
		if seen[f.Name] {
			return Schema{}, &SchemaError{Field: f.Name, Message: "duplicate field name"}
		}
		seen[f.Name] = true
		s.Fields = append(s.Fields, f)
	}
	return s, nil
}

// fieldParser decodes one field object, remembering how to name the field
// in errors.
type fieldParser struct {
	label string
	keys  map[string]json.RawMessage
}

func (p *fieldParser) errorf(format string, args ...any) error {
	return &SchemaError{Field: p.label, Message: fmt.Sprintf(format, args...)}
}

// get returns the raw value of key, treating JSON null as absent.
func (p *fieldParser) get(key string) (json.RawMessage, bool) {
	v, ok := p.keys[key]
	if !ok || isNull(v) {
		return nil, false
	}
	return v, true
}

func (p *fieldParser) str(key string) (string, bool, error) {
	v, ok := p.get(key)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, p.errorf("%s must be a string", key)
	}
	return s, true, nil
}

func (p *fieldParser) boolean(key string) (bool, error) {
	v, ok := p.get(key)
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, p.errorf("%s must be true or false", key)
	}
	return b, nil
}

func (p *fieldParser) number(key string) (*float64, error) {
	v, ok := p.get(key)
	if !ok {
		return nil, nil
	}
	f, res := parseFloat(string(bytes.TrimSpace(v)))
	switch res {
	case numOK:
		return &f, nil
	case numOutOfRange:
		return nil, p.errorf("%s is out of range", key)
	default:
		return nil, p.errorf("%s must be a number", key)
	}
}

func (p *fieldParser) length(key string) (*int, error) {
	v, ok := p.get(key)
	if !ok {
		return nil, nil
	}
	n, res := parseInt(string(bytes.TrimSpace(v)))
	if res != numOK || n < 0 || n > math.MaxInt32 {
		return nil, p.errorf("%s must be a non-negative integer", key)
	}
	i := int(n)
	return &i, nil
}

func parseField(index int, raw json.RawMessage) (Field, error) {
	p := &fieldParser{label: fmt.Sprintf("fields[%d]", index)}
	if err := json.Unmarshal(raw, &p.keys); err != nil || p.keys == nil {
		return Field{}, p.errorf("must be an object")
	}
	var f Field
	name, ok, err := p.str("name")
	switch {
	case err != nil:
		return Field{}, err
	case !ok || name == "":
		return Field{}, p.errorf("name is required")
	case strings.HasPrefix(name, "_"):
		return Field{}, p.errorf("name %q must not start with '_'", name)
	}
	f.Name = name
	p.label = name

	typ, ok, err := p.str("type")
	if err != nil {
		return Field{}, err
	}
	if !ok {
		typ = TypeString
	}
	canon, ok := canonicalType(typ)
	if !ok {
		return Field{}, p.errorf("unknown type %q", typ)
	}
	f.Type = canon

	if f.Required, err = p.boolean("required"); err != nil {
		return Field{}, err
	}
	if f.Unique, err = p.boolean("unique"); err != nil {
		return Field{}, err
	}
	if f.Index, err = p.boolean("index"); err != nil {
		return Field{}, err
	}
	if f.OnDelete, _, err = p.str("on_delete"); err != nil {
		return Field{}, err
	}
	if f.Description, _, err = p.str("description"); err != nil {
		return Field{}, err
	}
	if f.Min, err = p.number("min"); err != nil {
		return Field{}, err
	}
	if f.Max, err = p.number("max"); err != nil {
		return Field{}, err
	}
	if f.MinLength, err = p.length("min_length"); err != nil {
		return Field{}, err
	}
	if f.MaxLength, err = p.length("max_length"); err != nil {
		return Field{}, err
	}
	if f.Pattern, _, err = p.str("pattern"); err != nil {
		return Field{}, err
	}
	if f.Collection, _, err = p.str("collection"); err != nil {
		return Field{}, err
	}
	if err := p.checkOptions(&f); err != nil {
		return Field{}, err
	}

	f.absent = json.RawMessage("null")
	switch {
	case f.Type == TypeObject:
		f.absent = json.RawMessage("{}")
	case f.isList() && (f.MinLength == nil || *f.MinLength == 0):
		// An empty list would break min_length, so such a field stays null.
		f.absent = json.RawMessage("[]")
	}

	if v, ok := p.get("default"); ok {
		norm, fe := f.check(v)
		if fe != nil {
			return Field{}, p.errorf("default: %s", fe.Message)
		}
		f.Default = norm
	}
	return f, nil
}

// checkOptions rejects options that do not apply to the field's type (they
// would silently do nothing), contradictory bounds and bad patterns.
func (p *fieldParser) checkOptions(f *Field) error {
	numeric := f.Type == TypeNumber || f.Type == TypeInteger
	if (f.Min != nil || f.Max != nil) && !numeric {
		return p.errorf("min and max apply only to number and integer fields")
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		return p.errorf("min must not be greater than max")
	}
	if (f.MinLength != nil || f.MaxLength != nil) && f.Type != TypeString && !f.isList() {
		return p.errorf("min_length and max_length apply only to string and array fields")
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		return p.errorf("min_length must not be greater than max_length")
	}
	if f.Pattern != "" {
		if !f.isStringLike() {
			return p.errorf("pattern applies only to string, date, datetime and reference fields")
		}
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			return p.errorf("pattern is not a valid Go (RE2) regular expression: %v", err)
		}
		f.re = re
	}
	if f.Type == TypeReference {
		if f.Collection == "" {
			return p.errorf("reference fields need a collection")
		}
		if !collectionNameRE.MatchString(f.Collection) || len(f.Collection) > maxNameLen {
			return p.errorf("collection %q is not a valid collection name", f.Collection)
		}
		switch strings.ToLower(strings.TrimSpace(f.OnDelete)) {
		case "", OnDeleteRestrict:
			f.OnDelete = OnDeleteRestrict
		case OnDeleteCascade:
			f.OnDelete = OnDeleteCascade
		case OnDeleteSetNull:
			if f.Required {
				return p.errorf("on_delete set_null needs a field that is not required")
			}
			f.OnDelete = OnDeleteSetNull
		default:
			return p.errorf("on_delete must be restrict, cascade or set_null")
		}
	} else {
		if f.Collection != "" {
			return p.errorf("collection applies only to reference fields")
		}
		if f.OnDelete != "" {
			return p.errorf("on_delete applies only to reference fields")
		}
	}
	return nil
}

// indexed reports whether the field gets an index of its own.
func (f *Field) indexed() bool { return f.Unique || f.Index || f.Type == TypeReference }

// field returns the named field, or nil.
func (s Schema) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }
