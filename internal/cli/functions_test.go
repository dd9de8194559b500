package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tinybase/tinybase/pkg/sdk"
)

// parse parses a functions command line the way the tinybase binary does.
func parse(t *testing.T, args ...string) (*kong.Context, *FunctionsCmd, error) {
	t.Helper()
	var root struct {
		Globals
		Functions FunctionsCmd `cmd:""`
	}
	p, err := kong.New(&root, kong.Name("tinybase"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := p.Parse(append([]string{"functions"}, args...))
	return ctx, &root.Functions, err
}

func TestParseArguments(t *testing.T) {
	t.Setenv("TINYBASE_API_URL", "")
	t.Setenv("TINYBASE_API_TOKEN", "")
	tests := []struct {
		args    []string
		command string
		check   func(*FunctionsCmd) bool
		wantErr string
	}{
		{[]string{"new", "greet"}, "functions new <name>",
			func(c *FunctionsCmd) bool { return c.New.Name == "greet" && c.New.Lang == "python" }, ""},
		{[]string{"new", "greet", "-d", "Say hi", "--lang", "go"}, "functions new <name>",
			func(c *FunctionsCmd) bool { return c.New.Description == "Say hi" && c.New.Lang == "go" }, ""},
		{[]string{"new", "greet", "--lang", "rust"}, "", nil, "--lang must be one of"},
		{[]string{"new"}, "", nil, "expected \"<name>\""},
		{[]string{"build"}, "functions build", func(c *FunctionsCmd) bool { return len(c.Build.Names) == 0 }, ""},
		{[]string{"build", "a", "b", "--goos", "linux"}, "functions build <names>",
			func(c *FunctionsCmd) bool { return len(c.Build.Names) == 2 && c.Build.GOOS == "linux" }, ""},
		{[]string{"list", "--url", "http://h:1", "--token", "t"}, "functions list",
			func(c *FunctionsCmd) bool { return c.List.URL == "http://h:1" && c.List.Token == "t" }, ""},
		{[]string{"call", "greet", "--data", `{"a":1}`, "--json"}, "functions call <name>",
			func(c *FunctionsCmd) bool { return c.Call.Data == `{"a":1}` && c.Call.JSON }, ""},
		{[]string{"call", "greet"}, "functions call <name>", func(c *FunctionsCmd) bool { return c.Call.Data == "{}" }, ""},
		{[]string{"deploy"}, "functions deploy", func(c *FunctionsCmd) bool { return len(c.Deploy.Files) == 0 }, ""},
		{[]string{"deploy", "a.py", "b.py", "-n", "fix"}, "functions deploy <files>",
			func(c *FunctionsCmd) bool { return len(c.Deploy.Files) == 2 && c.Deploy.Notes == "fix" }, ""},
		{[]string{"versions", "greet", "--limit", "5"}, "functions versions <name>",
			func(c *FunctionsCmd) bool { return c.Versions.Name == "greet" && c.Versions.Limit == 5 }, ""},
		{[]string{"versions"}, "", nil, "expected \"<name>\""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctx, cmd, err := parse(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ctx.Command() != tt.command || !tt.check(cmd) {
				t.Fatalf("command %q, parsed %+v", ctx.Command(), cmd)
			}
		})
	}
}

func TestRemoteFlagsFromEnvironment(t *testing.T) {
	t.Setenv("TINYBASE_API_URL", "https://tb.example.com")
	t.Setenv("TINYBASE_API_TOKEN", "secret-token")
	_, cmd, err := parse(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.List.URL != "https://tb.example.com" || cmd.List.Token != "secret-token" {
		t.Fatalf("flags %+v", cmd.List.RemoteFlags)
	}
}

func TestNormalizeAPIURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8000":         "http://127.0.0.1:8000/api",
		"http://127.0.0.1:8000/":        "http://127.0.0.1:8000/api",
		"https://tb.example.com/api/":   "https://tb.example.com/api",
		"https://example.com/tb?x=1":    "https://example.com/tb/api",
		" http://[::1]:8000/api ":       "http://[::1]:8000/api",
		"ftp://example.com":             "",
		"127.0.0.1:8000":                "",
		"http://":                       "",
		"https://tb.example.com/apiary": "https://tb.example.com/apiary/api",
	} {
		got, err := normalizeAPIURL(in)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "--url must be") {
				t.Errorf("normalizeAPIURL(%q) = %q, %v; want an error", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("normalizeAPIURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestReadPayload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte(" {\"from\":\"file\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		data, stdin, want, wantErr string
	}{
		{`{"x":1}`, "", `{"x":1}`, ""},
		{``, "", `{}`, ""},
		{"@" + file, "", `{"from":"file"}`, ""},
		{"-", `{"from":"stdin"}`, `{"from":"stdin"}`, ""},
		{`{"x":`, "", "", "--data is not valid JSON: unexpected end of JSON input"},
		{`[1,2]`, "", "", "--data must be a JSON object, got [1,2]"},
		{"@/nonexistent/p.json", "", "", "read payload: open /nonexistent/p.json"},
	}
	for _, tt := range tests {
		got, err := readPayload(tt.data, strings.NewReader(tt.stdin))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("readPayload(%q) err = %v, want %q", tt.data, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("readPayload(%q) = %s, %v; want %s", tt.data, got, err, tt.want)
		}
	}
}

func TestNewRefusesBadAndExistingNames(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"taken.py", "built.bin"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, lang, wantErr string
	}{
		{"Greet", "python", `invalid function name "Greet"`},
		{"1abc", "go", `invalid function name "1abc"`},
		{"a-b", "python", `invalid function name "a-b"`},
		{strings.Repeat("a", 101), "go", "at most 100 characters"},
		{"tinybase_sdk", "python", "reserved"},
		{"class", "python", "Python keyword"},
		{"taken", "go", `function "taken" already exists: ` + filepath.Join(dir, "taken.py")},
		{"built", "python", `function "built" already exists: ` + filepath.Join(dir, "built.bin")},
		{"folder", "python", `function "folder" already exists: ` + filepath.Join(dir, "folder")},
	}
	for _, tt := range tests {
		c := &FunctionsNewCmd{Name: tt.name, Lang: tt.lang}
		err := c.run(dir, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("new %s --lang %s: err = %v, want %q", tt.name, tt.lang, err, tt.wantErr)
		}
	}
}

func TestNewWritesFunctions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "functions")
	var out bytes.Buffer
	if err := (&FunctionsNewCmd{Name: "greet", Description: "Say hi", Lang: "python"}).run(dir, &out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "greet.py"))
	if err != nil || !strings.Contains(string(src), `name="greet"`) || !strings.Contains(string(src), `"Say hi"`) {
		t.Fatalf("greet.py: %v\n%s", err, src)
	}
	if err := (&FunctionsNewCmd{Name: "greet_go", Lang: "go"}).run(dir, &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "go.mod", "sdk/sdk.go", "sdk/client.go"} {
		if _, err := os.Stat(filepath.Join(dir, "greet_go", f)); err != nil {
			t.Errorf("Go function lacks %s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "tinybase functions build greet_go") {
		t.Fatalf("output does not say how to build:\n%s", out.String())
	}
}

func TestBuildArguments(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := (&FunctionsBuildCmd{}).run(context.Background(), dir, &out); err != nil ||
		!strings.Contains(out.String(), "no Go functions") {
		t.Fatalf("err %v, out %q", err, out.String())
	}
	err := (&FunctionsBuildCmd{Names: []string{"missing"}}).run(context.Background(), dir, &out)
	if err == nil || !strings.Contains(err.Error(), `no Go function "missing"`) {
		t.Fatalf("err = %v", err)
	}
	err = (&FunctionsBuildCmd{Names: []string{"../etc"}}).run(context.Background(), dir, &out)
	if err == nil || !strings.Contains(err.Error(), `no Go function "../etc"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeployFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("b.py", 0o644)
	write("a.py", 0o644)
	write("_private.py", 0o644)
	write(".hidden.py", 0o644)
	write("notes.txt", 0o644)
	write("tool", 0o755)
	for _, d := range []string{"tinybase_sdk", "unbuilt", "built"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"unbuilt", "built"} {
		for _, f := range []string{"go.mod", "main.go"} {
			write(filepath.Join(d, f), 0o644)
		}
	}
	old := time.Now().Add(-time.Hour)
	write("built.bin", 0o755)
	if err := os.Chtimes(filepath.Join(dir, "built.bin"), old, old); err != nil {
		t.Fatal(err)
	}

	var warn bytes.Buffer
	files, err := deployFiles(dir, nil, &warn)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != "a.py b.py built.bin tool" {
		t.Fatalf("files = %v", names)
	}
	if !strings.Contains(warn.String(), "unbuilt: not built") || !strings.Contains(warn.String(), "built.bin is older") {
		t.Fatalf("warnings:\n%s", warn.String())
	}

	files, err = deployFiles(dir, []string{filepath.Join(dir, "built"), filepath.Join(dir, "a.py")}, io.Discard)
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "built.bin" {
		t.Fatalf("files = %v, %v", files, err)
	}
	for arg, want := range map[string]string{
		filepath.Join(dir, "unbuilt"):      "the Go function is not built",
		filepath.Join(dir, "tinybase_sdk"): "not a Go function folder",
		filepath.Join(dir, "nope.py"):      "no such file",
	} {
		if _, err := deployFiles(dir, []string{arg}, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("deploy %s: err = %v, want %q", arg, err, want)
		}
	}
}

// fakeAPI answers the routes the remote commands use.
func fakeAPI(t *testing.T) (*remote, *[]uploadRequest) {
	t.Helper()
	var uploads []uploadRequest
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/functions", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"name":"greet","description":"Say\nhi","auth":"public","tags":["a","b"]}]`)
	})
	mux.HandleFunc("POST /api/functions/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.PathValue("name") == "boom" {
			io.WriteString(w, `{"call_id":"c","status":"failed","result":null,"error_message":"bad input",`+
				`"error_type":"ValueError","duration_ms":1}`)
			return
		}
		w.Write([]byte(`{"call_id":"c","status":"succeeded","result":` + string(body) +
			`,"error_message":null,"error_type":null,"duration_ms":1}`))
	})
	mux.HandleFunc("POST /api/admin/functions/upload", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer admin" {
			w.WriteHeader(401)
			io.WriteString(w, `{"detail":"Not authenticated"}`)
			return
		}
		var req uploadRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		uploads = append(uploads, req)
		if strings.HasPrefix(req.Filename, "bad") {
			w.WriteHeader(400)
			io.WriteString(w, `{"detail":"File must import tinybase_sdk"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(uploadResult{FunctionName: strings.TrimSuffix(req.Filename, ".py"),
			VersionID: "0123456789abcdef", ContentHash: "fedcba9876543210", IsNewVersion: true,
			Warnings: []string{"Direct call to eval()"}})
	})
	mux.HandleFunc("GET /api/admin/functions/{name}/versions", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"id":"0123456789","function_name":"greet","content_hash":"abcdef0123456789",`+
			`"file_size":2048,"deployed_by_email":"admin@example.com","deployed_at":"2025-01-01T00:00:00Z",`+
			`"notes":"first","execution_count":3}]`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &remote{client: sdk.NewClient(srv.URL+"/api", "admin"), api: srv.URL + "/api"}, &uploads
}

func TestRemoteCommands(t *testing.T) {
	r, uploads := fakeAPI(t)
	ctx := context.Background()
	var out bytes.Buffer

	if err := (&FunctionsListCmd{}).run(ctx, r, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "greet  public  a,b   Say hi") {
		t.Fatalf("list:\n%s", out.String())
	}

	out.Reset()
	if err := (&FunctionsCallCmd{Name: "greet"}).run(ctx, r, json.RawMessage(`{"x":1}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{\n  \"x\": 1\n}\n" {
		t.Fatalf("call output %q", out.String())
	}
	err := (&FunctionsCallCmd{Name: "boom"}).run(ctx, r, json.RawMessage(`{}`), &out)
	if err == nil || err.Error() != "function boom failed: ValueError: bad input" {
		t.Fatalf("failed call err = %v", err)
	}

	out.Reset()
	if err := (&FunctionsVersionsCmd{Name: "greet", Limit: 50}).run(ctx, r, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "01234567  abcdef012345  2025-01-01T00:00:00Z  admin@example.com  2.0 KiB  3      first") {
		t.Fatalf("versions:\n%s", out.String())
	}
	if err := (&FunctionsVersionsCmd{Name: "greet", Limit: 0}).run(ctx, r, &out); err == nil {
		t.Fatal("limit 0 accepted")
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "good.py")
	bad := filepath.Join(dir, "bad.py")
	bin := filepath.Join(dir, "tool.bin")
	for f, content := range map[string][]byte{good: []byte("print(1)\n"), bad: []byte("x"), bin: {0xff, 0xfe, 0}} {
		if err := os.WriteFile(f, content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	err = (&FunctionsDeployCmd{Notes: "n1"}).run(ctx, r, []string{good, bad, bin}, &out)
	if err == nil || err.Error() != "1 of 3 files failed to deploy" {
		t.Fatalf("deploy err = %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"[1/3] " + relPath(good) + " (9 B) … new version fedcba98",
		"    warning: Direct call to eval()",
		"[2/3] " + relPath(bad) + " (1 B) … failed: upload: HTTP 400: File must import tinybase_sdk",
		"good.py   good      01234567  new version fedcba98",
		"bad.py    -         -         failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out.String())
		}
	}
	if len(*uploads) != 3 || (*uploads)[0].Content != "print(1)\n" || (*uploads)[0].Notes != "n1" ||
		(*uploads)[0].Encoding != "" || (*uploads)[2].Encoding != "base64" ||
		(*uploads)[2].Content != base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0}) {
		t.Fatalf("uploads = %+v", *uploads)
	}

	anon := &remote{client: sdk.NewClient(r.api, ""), api: r.api}
	err = (&FunctionsDeployCmd{}).run(ctx, anon, []string{good}, io.Discard)
	if err == nil {
		t.Fatal("anonymous deploy succeeded")
	}
}

func TestExplainConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	api := srv.URL + "/api"
	srv.Close()
	r := &remote{client: sdk.NewClient(api, ""), api: api}
	err := (&FunctionsListCmd{}).run(context.Background(), r, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nothing answers at "+api+" (is tinybase serve running?") {
		t.Fatalf("err = %v", err)
	}
}
