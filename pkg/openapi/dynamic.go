package openapi

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tinybase/tinybase/pkg/collections"
	"github.com/tinybase/tinybase/pkg/functions"
)

// fieldSchema is the JSON schema of one record field's value.
func fieldSchema(f collections.Field) obj {
	var s obj
	switch f.Type {
	case collections.TypeString:
		s = str()
	case collections.TypeNumber:
		s = number()
	case collections.TypeInteger:
		s = integer()
	case collections.TypeBoolean:
		s = boolean()
	case collections.TypeArray:
		s = obj{"type": "array"}
	case collections.TypeObject:
		s = anyObject()
	case collections.TypeDate:
		s = strf("date")
	case collections.TypeDateTime:
		s = strf("date-time")
	case collections.TypeReference:
		s = desc(strf("uuid"), "the id of a record in "+f.Collection)
	default:
		if elem, ok := strings.CutPrefix(f.Type, "list["); ok {
			s = arrayOf(obj{"type": strings.TrimSuffix(elem, "]")})
		} else {
			s = obj{}
		}
	}
	if f.Min != nil {
		s["minimum"] = *f.Min
	}
	if f.Max != nil {
		s["maximum"] = *f.Max
	}
	lo, hi := "minLength", "maxLength"
	if s["type"] == "array" {
		lo, hi = "minItems", "maxItems"
	}
	if f.MinLength != nil {
		s[lo] = *f.MinLength
	}
	if f.MaxLength != nil {
		s[hi] = *f.MaxLength
	}
	if f.Pattern != "" {
		s["pattern"] = f.Pattern
	}
	if len(f.Default) > 0 {
		var d any
		if json.Unmarshal(f.Default, &d) == nil {
			s["default"] = d
		}
	}
	if f.Description != "" {
		s["description"] = f.Description
	}
	if !f.Required {
		s = nullable(s)
	}
	return s
}

// addCollection adds the schemas of a collection's records and its
// concrete paths, /api/collections/<name>/records[/{record_id}].
func addCollection(paths, comps obj, c collections.Collection) {
	schema, err := collections.ParseSchema(c.Schema)
	if err != nil {
		return // a stored schema always parses; skip rather than fail the document
	}
	props, patch := obj{}, obj{}
	var required []string
	for _, f := range schema.Fields {
		props[f.Name] = fieldSchema(f)
		patch[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	data := componentName("Collection", c.Name, "Data")
	comps[data] = desc(object(props, required...), fmt.Sprintf("the data of a record of %s", c.Name))
	comps[componentName("Collection", c.Name, "Patch")] = desc(object(patch),
		fmt.Sprintf("a change to a record of %s: members given replace the stored ones", c.Name))
	rec := componentName("Collection", c.Name, "Record")
	comps[rec] = obj{"allOf": []obj{ref("Record"), object(obj{"data": ref(data)})}}

	tag := "records"
	base := "/api/collections/" + c.Name + "/records"
	list := op{method: "GET", path: base, tag: tag, summary: "List records of " + c.Name, auth: optional,
		params: listRecordParams()[1:], resp: object(obj{"records": arrayOf(ref(rec)),
			"total": nullable(integer()), "limit": integer(), "offset": integer(), "next_cursor": nullable(str())},
			"records", "limit", "offset"), errors: []int{401, 403, 422}}
	create := op{method: "POST", path: base, tag: tag, summary: "Create a record in " + c.Name, auth: user,
		body: object(obj{"data": ref(data)}, "data"), status: 201, resp: ref(rec),
		errors: []int{400, 403, 409, 413, 422}}
	item := base + "/{record_id}"
	get := op{method: "GET", path: item, tag: tag, summary: "Get a record of " + c.Name, auth: optional,
		params: []obj{recordIDParam}, resp: ref(rec), errors: []int{403, 404, 422}}
	patchOp := op{method: "PATCH", path: item, tag: tag, summary: "Change a record of " + c.Name, auth: user,
		params: []obj{recordIDParam}, body: object(obj{"data": ref(componentName("Collection", c.Name, "Patch"))},
			"data"), resp: ref(rec), errors: []int{400, 403, 404, 409, 422}}
	del := op{method: "DELETE", path: item, tag: tag, summary: "Delete a record of " + c.Name, auth: user,
		params: []obj{recordIDParam}, status: 204, errors: []int{403, 404, 409, 422}}
	paths[base] = obj{"get": list.render(), "post": create.render()}
	paths[item] = obj{"get": get.render(), "patch": patchOp.render(), "delete": del.render()}
}

// addFunction adds /api/functions/<name> with the function's own input
// and output schemas.
func addFunction(paths, comps obj, m functions.Meta) {
	auth := optional
	switch m.Auth {
	case "public":
		auth = public
	case "auth":
		auth = user
	case "admin":
		auth = admin
	}
	body := anyObject()
	if s := embedSchema(comps, componentName("Function", m.Name, "Input"), m.InputSchema); s != nil {
		body = s
	}
	result := obj{}
	if s := embedSchema(comps, componentName("Function", m.Name, "Output"), m.OutputSchema); s != nil {
		result = nullable(s)
	}
	resp := obj{"allOf": []obj{ref("CallResponse"), object(obj{"result": result})}}
	summary := "Call " + m.Name
	if m.Description != "" {
		summary = m.Description
	}
	call := op{method: "POST", path: "/api/functions/" + m.Name, tag: "functions", summary: summary, auth: auth,
		params: []obj{query("async", boolean(), "answer 202 at once")}, body: body, resp: resp,
		errors: []int{413, 422, 429, 503, 504},
		extra: obj{"202": obj{"description": "Accepted (async=true)",
			"content": obj{"application/json": obj{"schema": ref("CallAccepted")}}}}}
	rendered := call.render()
	if len(m.Tags) > 0 {
		rendered["x-tinybase-tags"] = m.Tags
	}
	paths["/api/functions/"+m.Name] = obj{"post": rendered}
}

// embedSchema puts a function's JSON schema among the components under
// name and returns a reference to it; nil when there is none. References
// inside it ("#/$defs/X", as Pydantic writes them) are rewritten to point
// into the component, since "#" now means the whole document.
func embedSchema(comps obj, name string, raw json.RawMessage) obj {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil
	}
	comps[name] = rebase(v, "#/components/schemas/"+name)
	return ref(name)
}

func rebase(v any, root string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if s, ok := val.(string); ok && k == "$ref" && (s == "#" || strings.HasPrefix(s, "#/")) {
				out[k] = root + strings.TrimPrefix(s, "#")
				continue
			}
			if k == "$schema" || k == "$id" {
				continue // a component is not a schema resource of its own
			}
			out[k] = rebase(val, root)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = rebase(val, root)
		}
		return out
	}
	return v
}
