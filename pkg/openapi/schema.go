package openapi

import (
	"maps"
	"slices"
)

// obj is a JSON object of the document. The document is built from maps:
// encoding/json writes map keys sorted, so the same input always gives the
// same bytes (the golden test relies on it).
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str() obj                  { return obj{"type": "string"} }
func strf(format string) obj    { return obj{"type": "string", "format": format} }
func integer() obj              { return obj{"type": "integer"} }
func boolean() obj              { return obj{"type": "boolean"} }
func number() obj               { return obj{"type": "number"} }
func arrayOf(items obj) obj     { return obj{"type": "array", "items": items} }
func anyObject() obj            { return obj{"type": "object", "additionalProperties": true} }
func enum(values ...string) obj { return obj{"type": "string", "enum": values} }

// nullable lets a schema also be null, the OpenAPI 3.1 way.
func nullable(s obj) obj {
	if t, ok := s["type"].(string); ok && len(s) <= 3 {
		out := maps.Clone(s)
		out["type"] = []string{t, "null"}
		return out
	}
	return obj{"anyOf": []obj{s, {"type": "null"}}}
}

// object is a closed-world description of a JSON object: props, with the
// names in required always present. Unknown members may be added by later
// versions, so additionalProperties stays open.
func object(props obj, required ...string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// with returns a copy of s with k set to v.
func with(s obj, k string, v any) obj {
	out := maps.Clone(s)
	out[k] = v
	return out
}

func desc(s obj, d string) obj { return with(s, "description", d) }

// keys returns the property names of an object schema, for "required".
func keys(props obj) []string {
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
