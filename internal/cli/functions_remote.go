package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tinybase/tinybase/pkg/sdk"
)

// FunctionsListCmd lists the functions the caller may see.
type FunctionsListCmd struct {
	RemoteFlags
	JSON bool `help:"Print JSON."`
}

type functionInfo struct {
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Auth        string   `json:"auth"`
	Tags        []string `json:"tags"`
}

// Run prints the functions.
func (c *FunctionsListCmd) Run(g *Globals) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	return c.run(ctx, r, os.Stdout)
}

func (c *FunctionsListCmd) run(ctx context.Context, r *remote, out io.Writer) error {
	var raw json.RawMessage
	if err := r.client.Get(ctx, "functions", nil, &raw); err != nil {
		return r.explain("list functions", err)
	}
	if c.JSON {
		return printJSON(out, raw)
	}
	var list []functionInfo
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("list functions: unexpected answer: %w", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "no functions (or none visible without a token)")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAUTH\tTAGS\tDESCRIPTION")
	for _, f := range list {
		desc := ""
		if f.Description != nil {
			desc = oneLine(*f.Description, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Auth, strings.Join(f.Tags, ","), desc)
	}
	return tw.Flush()
}

// FunctionsCallCmd calls a function.
type FunctionsCallCmd struct {
	RemoteFlags
	Name string `arg:"" help:"Function name."`
	Data string `help:"JSON payload; @FILE reads it from a file and - from stdin." default:"{}"`
	JSON bool   `help:"Print the whole call response, not only the result."`
}

// Run calls the function and prints its result. A failed call exits 1.
func (c *FunctionsCallCmd) Run(g *Globals) error {
	payload, err := readPayload(c.Data, os.Stdin)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, 0)
	if err != nil {
		return err
	}
	return c.run(ctx, r, payload, os.Stdout)
}

func (c *FunctionsCallCmd) run(ctx context.Context, r *remote, payload json.RawMessage, out io.Writer) error {
	var raw json.RawMessage
	if err := r.client.Post(ctx, "functions/"+url.PathEscape(c.Name), payload, &raw); err != nil {
		return r.explain("call "+c.Name, err)
	}
	var res sdk.CallResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("call %s: unexpected answer: %w", c.Name, err)
	}
	if c.JSON {
		if err := printJSON(out, raw); err != nil {
			return err
		}
	} else if res.Status == "succeeded" {
		if err := printJSON(out, res.Result); err != nil {
			return err
		}
	}
	if res.Status != "succeeded" {
		return fmt.Errorf("function %s %s: %s: %s", c.Name, res.Status, deref(res.ErrorType), deref(res.ErrorMessage))
	}
	return nil
}

// readPayload reads the --data value: JSON text, @FILE or - for stdin.
func readPayload(data string, stdin io.Reader) (json.RawMessage, error) {
	var raw []byte
	switch {
	case data == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read payload from stdin: %w", err)
		}
		raw = b
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, fmt.Errorf("read payload: %w", err)
		}
		raw = b
	default:
		raw = []byte(data)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return nil, fmt.Errorf("--data is not valid JSON: %v", err)
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("--data must be a JSON object, got %s", oneLine(string(raw), 40))
	}
	return raw, nil
}

// FunctionsVersionsCmd lists the deployed versions of a function.
type FunctionsVersionsCmd struct {
	RemoteFlags
	Name  string `arg:"" help:"Function name."`
	Limit int    `help:"How many versions, newest first (1 to 100)." default:"50"`
	JSON  bool   `help:"Print JSON."`
}

type versionInfo struct {
	ID             string  `json:"id"`
	FunctionName   string  `json:"function_name"`
	ContentHash    string  `json:"content_hash"`
	FileSize       int64   `json:"file_size"`
	DeployedBy     *string `json:"deployed_by_email"`
	DeployedAt     string  `json:"deployed_at"`
	Notes          *string `json:"notes"`
	ExecutionCount int64   `json:"execution_count"`
}

// Run prints the versions.
func (c *FunctionsVersionsCmd) Run(g *Globals) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	return c.run(ctx, r, os.Stdout)
}

func (c *FunctionsVersionsCmd) run(ctx context.Context, r *remote, out io.Writer) error {
	if c.Limit < 1 || c.Limit > 100 {
		return fmt.Errorf("--limit must be between 1 and 100, got %d", c.Limit)
	}
	var raw json.RawMessage
	q := url.Values{"limit": {fmt.Sprint(c.Limit)}}
	if err := r.client.Get(ctx, "admin/functions/"+url.PathEscape(c.Name)+"/versions", q, &raw); err != nil {
		return r.explain("versions of "+c.Name, err)
	}
	if c.JSON {
		return printJSON(out, raw)
	}
	var list []versionInfo
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("versions of %s: unexpected answer: %w", c.Name, err)
	}
	// TODO(versions): mark the live version once the endpoint reports it.
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tHASH\tDEPLOYED\tBY\tSIZE\tCALLS\tNOTES")
	for _, v := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", short(v.ID, 8), short(v.ContentHash, 12), v.DeployedAt,
			orDash(deref(v.DeployedBy)), formatSize(v.FileSize), v.ExecutionCount, oneLine(deref(v.Notes), 40))
	}
	return tw.Flush()
}

// printJSON pretty-prints a JSON document.
func printJSON(out io.Writer, raw json.RawMessage) error {
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// oneLine flattens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
