package sdk

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

type addInput struct {
	X int `json:"x"`
	Y int `json:"y"`
}

type addOutput struct {
	Sum int `json:"sum"`
}

// withFunction registers add_numbers for one test.
func withFunction(t *testing.T) {
	t.Helper()
	prev := current
	t.Cleanup(func() { current = prev })
	Register(Function{Name: "add_numbers", Description: "Add two numbers", Tags: []string{"math"}},
		func(ctx context.Context, c *Client, in addInput) (addOutput, error) {
			return addOutput{Sum: in.X + in.Y}, nil
		})
}

func TestMetadata(t *testing.T) {
	withFunction(t)
	var out, errOut bytes.Buffer
	if code := run([]string{"--metadata"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := `{"name":"add_numbers","description":"Add two numbers","auth":"auth","tags":["math"],` +
		`"input_schema":{"type":"object","title":"addInput","properties":{"x":{"type":"integer"},` +
		`"y":{"type":"integer"}},"required":["x","y"]},` +
		`"output_schema":{"type":"object","title":"addOutput","properties":{"sum":{"type":"integer"}},` +
		`"required":["sum"]}}` + "\n"
	if out.String() != want {
		t.Fatalf("metadata\n got %s\nwant %s", out.String(), want)
	}
}

func TestServeLines(t *testing.T) {
	withFunction(t)
	in := strings.Join([]string{
		`{"id":"a","context":{},"payload":{"x":1,"y":2}}`,
		``,
		`not json`,
		`{"id":7,"payload":{"x":"a","y":2}}`,
		`{"id":"last","payload":{"x":2,"y":2}}`, // no newline before EOF
	}, "\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"--serve"}, strings.NewReader(in), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := strings.Join([]string{
		`{"ready":true,"protocol":1}`,
		`{"id":"a","status":"succeeded","result":{"sum":3}}`,
		`{"id":null,"status":"failed","error":"invalid character 'o' in literal null (expecting 'u')",` +
			`"error_type":"JSONDecodeError"}`,
		`{"id":7,"status":"failed","error":"Field 'x' must be an integer, got string","error_type":"ValidationError"}`,
		`{"id":"last","status":"succeeded","result":{"sum":4}}`,
	}, "\n") + "\n"
	if out.String() != want {
		t.Fatalf("serve output\n got %s\nwant %s", out.String(), want)
	}
}

func TestNothingRegistered(t *testing.T) {
	prev := current
	current = nil
	defer func() { current = prev }()
	var out, errOut bytes.Buffer
	if code := run(nil, strings.NewReader(""), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "No function registered") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestRegisterRejects(t *testing.T) {
	prev := current
	defer func() { current = prev }()
	h := func(ctx context.Context, c *Client, in addInput) (addOutput, error) { return addOutput{}, nil }
	for _, tt := range []struct {
		fn   Function
		want string
	}{
		{Function{Name: "Bad-Name"}, "must match"},
		{Function{Name: "ok", Auth: "users"}, `auth "users"`},
	} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(v.(string), tt.want) {
					t.Errorf("Register(%+v) panic %v, want %q", tt.fn, v, tt.want)
				}
			}()
			Register(tt.fn, h)
		}()
	}
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "unsupported type func()") {
			t.Errorf("panic %v", v)
		}
	}()
	Register(Function{Name: "ok"}, func(ctx context.Context, c *Client, in struct{ F func() }) (int, error) {
		return 0, nil
	})
}
