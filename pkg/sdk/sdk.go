// Package sdk makes a Go program a TinyBase function.
//
// A function program registers one typed handler and hands control to Run:
//
//	type Input struct {
//		X int `json:"x"`
//		Y int `json:"y"`
//	}
//
//	type Output struct {
//		Sum int `json:"sum"`
//	}
//
//	func main() {
//		sdk.Register(sdk.Function{Name: "add_numbers", Description: "Add two numbers", Tags: []string{"math"}},
//			func(ctx context.Context, c *sdk.Client, in Input) (Output, error) {
//				return Output{Sum: in.X + in.Y}, nil
//			})
//		sdk.Run()
//	}
//
// Run speaks version 1 of the function protocol (docs/functions.md):
// `--metadata` prints the description with input and output JSON Schemas
// derived from the Go types, `--serve` answers one JSON request line with
// one JSON response line until stdin closes, and no argument handles one
// request document on stdin.
//
// The package uses only the standard library and depends on nothing else in
// TinyBase, so `tinybase functions new --lang go` copies it verbatim into a
// function's folder and the function builds as a module of its own.
package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// ProtocolVersion is the version of the function protocol Run speaks.
const ProtocolVersion = 1

// Auth levels a function may declare in Function.Auth.
const (
	AuthPublic = "public" // anyone, signed in or not
	AuthUser   = "auth"   // any signed-in user; the default
	AuthAdmin  = "admin"  // admins only
)

// Function describes a function: what `<program> --metadata` reports
// besides the schemas.
type Function struct {
	// Name is the function's name in URLs and schedules. It must match
	// ^[a-z][a-z0-9_]*$.
	Name string
	// Description is shown in function lists.
	Description string
	// Auth is AuthPublic, AuthUser or AuthAdmin; empty means AuthUser.
	Auth string
	// Tags group functions in lists.
	Tags []string
}

// registered is what Register records for Run.
type registered struct {
	fn           Function
	inputSchema  json.RawMessage
	outputSchema json.RawMessage
	invoke       func(ctx context.Context, c *Client, payload json.RawMessage) (any, error)
}

// current is the function Run serves. A program registers one function; if
// it registers several, the last one counts.
var current *registered

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Register declares the program's function. The handler receives the call
// payload decoded into In and returns the result, which is encoded as
// JSON; an error fails the call (see Error for choosing its error_type).
//
// The input and output JSON Schemas are derived from In and Out: struct
// fields with their json tags become properties, and a field is required
// unless it is a pointer or tagged omitempty or omitzero. A payload that
// does not match In fails the call with error_type "ValidationError" and a
// message naming the field, before the handler runs.
//
// Register panics when fn is invalid or a type cannot be described (a
// channel or function field, say), so such a program fails at
// `--metadata` with the reason on stderr instead of misbehaving later.
func Register[In, Out any](fn Function, handler func(ctx context.Context, c *Client, in In) (Out, error)) {
	if handler == nil {
		panic("sdk: Register: handler is nil")
	}
	fn.Name = strings.TrimSpace(fn.Name)
	if !nameRE.MatchString(fn.Name) {
		panic(fmt.Sprintf("sdk: Register: function name %q must match ^[a-z][a-z0-9_]*$", fn.Name))
	}
	switch fn.Auth {
	case "":
		fn.Auth = AuthUser
	case AuthPublic, AuthUser, AuthAdmin:
	default:
		panic(fmt.Sprintf("sdk: Register: auth %q of %s must be %q, %q or %q",
			fn.Auth, fn.Name, AuthPublic, AuthUser, AuthAdmin))
	}
	if fn.Tags == nil {
		fn.Tags = []string{}
	}
	inType, outType := reflect.TypeFor[In](), reflect.TypeFor[Out]()
	in, err := schemaDocument(inType)
	if err != nil {
		panic(fmt.Sprintf("sdk: Register %s: input type %s: %v", fn.Name, inType, err))
	}
	out, err := schemaDocument(outType)
	if err != nil {
		panic(fmt.Sprintf("sdk: Register %s: output type %s: %v", fn.Name, outType, err))
	}
	current = &registered{
		fn:           fn,
		inputSchema:  in,
		outputSchema: out,
		invoke: func(ctx context.Context, c *Client, payload json.RawMessage) (any, error) {
			var v In
			if err := decodePayload(payload, inType, &v); err != nil {
				return nil, err
			}
			return handler(ctx, c, v)
		},
	}
}

// metadata is the document `--metadata` prints.
type metadata struct {
	Name         string          `json:"name"`
	Description  *string         `json:"description"`
	Auth         string          `json:"auth"`
	Tags         []string        `json:"tags"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema"`
}

func (r *registered) metadata() metadata {
	md := metadata{Name: r.fn.Name, Auth: r.fn.Auth, Tags: r.fn.Tags,
		InputSchema: r.inputSchema, OutputSchema: r.outputSchema}
	if r.fn.Description != "" {
		d := r.fn.Description
		md.Description = &d
	}
	return md
}
