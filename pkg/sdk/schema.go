package sdk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Types with a fixed JSON form, checked before the kind of a type.
var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numberType      = reflect.TypeFor[json.Number]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textMarshType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schemaDocument returns the JSON Schema of t, or nil (encoded as null:
// no schema) when t is an interface type such as any.
func schemaDocument(t reflect.Type) (json.RawMessage, error) {
	if t.Kind() == reflect.Interface {
		return nil, nil
	}
	s, err := (&schemaGen{seen: map[reflect.Type]bool{}}).schema(t, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// object is a JSON object that keeps its keys in insertion order, so
// properties are listed as the struct declares them.
type object []member

type member struct {
	key   string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type schemaGen struct {
	// seen holds the struct types being described, to cut off recursion.
	seen map[reflect.Type]bool
}

// schema describes t; at names the place for error messages.
func (g *schemaGen) schema(t reflect.Type, at string) (object, error) {
	if t.Kind() == reflect.Pointer {
		elem, err := g.schema(t.Elem(), at)
		if err != nil || len(elem) == 0 {
			return elem, err
		}
		return object{{"anyOf", []any{elem, object{{"type", "null"}}}}}, nil
	}
	switch {
	case t == timeType:
		return object{{"type", "string"}, {"format", "date-time"}}, nil
	case t == rawMessageType:
		return object{}, nil
	case t == numberType:
		return object{{"type", "number"}}, nil
	case implements(t, marshalerType) || implements(t, unmarshalerType):
		// The type chooses its own JSON form; nothing is known about it.
		return object{}, nil
	case implements(t, textMarshType) || implements(t, textUnmarshType):
		return object{{"type", "string"}}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return object{{"type", "boolean"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return object{{"type", "integer"}}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return object{{"type", "integer"}, {"minimum", 0}}, nil
	case reflect.Float32, reflect.Float64:
		return object{{"type", "number"}}, nil
	case reflect.String:
		return object{{"type", "string"}}, nil
	case reflect.Interface:
		return object{}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return object{{"type", "string"}, {"contentEncoding", "base64"}}, nil
		}
		items, err := g.schema(t.Elem(), at+"[]")
		if err != nil {
			return nil, err
		}
		s := object{{"type", "array"}, {"items", items}}
		if t.Kind() == reflect.Array {
			s = append(s, member{"minItems", t.Len()}, member{"maxItems", t.Len()})
		}
		return s, nil
	case reflect.Map:
		if !validMapKey(t.Key()) {
			return nil, fmt.Errorf("%sunsupported map key type %s", where(at), t.Key())
		}
		values, err := g.schema(t.Elem(), at+"{}")
		if err != nil {
			return nil, err
		}
		return object{{"type", "object"}, {"additionalProperties", values}}, nil
	case reflect.Struct:
		return g.structSchema(t, at)
	}
	return nil, fmt.Errorf("%sunsupported type %s", where(at), t)
}

func (g *schemaGen) structSchema(t reflect.Type, at string) (object, error) {
	s := object{{"type", "object"}}
	if t.Name() != "" {
		s = append(s, member{"title", t.Name()})
	}
	if g.seen[t] {
		// A self-referencing type is cut off instead of recursing forever.
		return s, nil
	}
	g.seen[t] = true
	defer delete(g.seen, t)
	props := object{}
	var required []string
	for _, f := range jsonFields(t) {
		p, err := g.schema(f.typ, join(at, f.name))
		if err != nil {
			return nil, err
		}
		if f.asString {
			p = object{{"type", "string"}}
		}
		props = append(props, member{f.name, p})
		if f.required {
			required = append(required, f.name)
		}
	}
	s = append(s, member{"properties", props})
	if len(required) > 0 {
		s = append(s, member{"required", required})
	}
	return s, nil
}

// field is a struct field as encoding/json sees it.
type field struct {
	name     string
	typ      reflect.Type
	required bool
	// asString is the `,string` option: the value travels as a string.
	asString bool
}

// jsonFields lists the fields encoding/json encodes for struct type t, with
// embedded structs flattened. A field is required when it is not a pointer
// and not tagged omitempty or omitzero. Of several fields with one name
// the shallowest wins, as in encoding/json.
//
// TODO(schema): encoding/json drops a name that two fields of the same
// depth claim, unless exactly one is tagged; here the first one wins.
func jsonFields(t reflect.Type) []field {
	var out []field
	byName := map[string]int{}
	depthOf := map[string]int{}
	var walk func(t reflect.Type, depth int, optional bool)
	walk = func(t reflect.Type, depth int, optional bool) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, optional || ft.Kind() == reflect.Pointer)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, ok := depthOf[name]; ok && d <= depth {
				continue
			}
			omit := hasOpt(opts, "omitempty") || hasOpt(opts, "omitzero")
			f := field{name: name, typ: ft,
				required: !optional && ft.Kind() != reflect.Pointer && !omit,
				asString: hasOpt(opts, "string") && stringable(ft)}
			if j, ok := byName[name]; ok {
				out[j] = f
			} else {
				byName[name] = len(out)
				out = append(out, f)
			}
			depthOf[name] = depth
		}
	}
	walk(t, 0, false)
	return out
}

func hasOpt(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// stringable reports whether the `,string` option applies to t, as in
// encoding/json: booleans, numbers and strings.
func stringable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}

func validMapKey(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return implements(t, textUnmarshType)
}

// implements reports whether t or *t implements iface.
func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

func where(at string) string {
	if at == "" {
		return ""
	}
	return "field " + at + ": "
}

// join appends a property name to a field path: "address" + "city" is
// "address.city".
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
