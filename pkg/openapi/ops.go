package openapi

import (
	"net/http"
	"strconv"
	"strings"
)

// Who may call an operation.
const (
	public   = "public"   // no token needed
	optional = "optional" // anonymous callers are served, with less
	user     = "user"     // any signed-in user
	admin    = "admin"    // an admin
)

// op is one operation of the REST API.
type op struct {
	method, path string
	tag          string
	summary      string
	auth         string
	params       []obj
	// body is the JSON request body's schema; nil for none.
	body obj
	// status and resp are the success answer; resp nil means no body.
	status int
	resp   obj
	// contentType of the success answer; "" is application/json.
	contentType string
	// errors are the documented error statuses besides 401/403, which
	// follow from auth.
	errors []int
	// extra are further answers, by status.
	extra obj
}

func pathParam(name, description string) obj {
	return obj{"name": name, "in": "path", "required": true, "schema": str(), "description": description}
}

func query(name string, schema obj, description string) obj {
	p := obj{"name": name, "in": "query", "schema": schema}
	if description != "" {
		p["description"] = description
	}
	return p
}

// page is limit (1..max, default def) and offset.
func page(def, max int) []obj {
	return []obj{
		query("limit", obj{"type": "integer", "minimum": 1, "maximum": max, "default": def}, ""),
		query("offset", obj{"type": "integer", "minimum": 0, "default": 0}, ""),
	}
}

// operationID is the method and the path in snake case:
// GET /api/collections/{collection_name} → get_api_collections_collection_name.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	last := '_'
	for _, r := range path {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			last = r
			continue
		}
		if r >= 'A' && r <= 'Z' {
			b.WriteRune(r + 'a' - 'A')
			last = r
			continue
		}
		if last != '_' {
			b.WriteRune('_')
			last = '_'
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

func errorResponse(status int) obj {
	return obj{"description": http.StatusText(status),
		"content": obj{"application/json": obj{"schema": ref("Error")}}}
}

// render turns op into an OpenAPI operation object.
func (o op) render() obj {
	out := obj{"operationId": operationID(o.method, o.path), "summary": o.summary, "tags": []string{o.tag}}
	if len(o.params) > 0 {
		out["parameters"] = o.params
	}
	if o.body != nil {
		out["requestBody"] = obj{"required": true,
			"content": obj{"application/json": obj{"schema": o.body}}}
	}
	status := o.status
	if status == 0 {
		status = http.StatusOK
	}
	ok := obj{"description": http.StatusText(status)}
	if o.resp != nil {
		ct := o.contentType
		if ct == "" {
			ct = "application/json"
		}
		ok["content"] = obj{ct: obj{"schema": o.resp}}
	}
	responses := obj{strconv.Itoa(status): ok}
	errs := append([]int(nil), o.errors...)
	switch o.auth {
	case public:
		out["security"] = []obj{}
	case optional:
		out["security"] = []obj{{}, {"bearer": []string{}}}
	case user:
		out["security"] = []obj{{"bearer": []string{}}}
		errs = append(errs, http.StatusUnauthorized)
	case admin:
		out["security"] = []obj{{"bearer": []string{}}}
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
	}
	for _, code := range errs {
		responses[strconv.Itoa(code)] = errorResponse(code)
	}
	for code, r := range o.extra {
		responses[code] = r
	}
	out["responses"] = responses
	return out
}
