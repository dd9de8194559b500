// Package python embeds the stdlib-only Python SDK that function files
// import as tinybase_sdk, together with the function templates.
//
// Workers install the SDK into a directory of their own and put it on the
// PYTHONPATH of every function process, so function files need no
// dependencies and start without a virtual environment.
package python

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// PackageName is the import name of the SDK and the directory Install
// creates.
const PackageName = "tinybase_sdk"

//go:embed tinybase_sdk/*.py
var sdkFiles embed.FS

//go:embed templates/hello.py templates/function.py.tmpl
var templateFiles embed.FS

// Files returns the SDK package as a read-only file system whose single top
// directory is tinybase_sdk.
func Files() fs.FS { return sdkFiles }

// Install writes the SDK to dir/tinybase_sdk, creating directories as
// needed. It replaces the SDK's own files, each atomically so a function
// process starting meanwhile never imports a half-written module, and
// leaves any other file in the directory alone.
func Install(dir string) error {
	target := filepath.Join(dir, PackageName)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("install python sdk: %w", err)
	}
	return fs.WalkDir(sdkFiles, PackageName, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := sdkFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("install python sdk: %w", err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := writeFileAtomic(dst, data); err != nil {
			return fmt.Errorf("install python sdk: %w", err)
		}
		return nil
	})
}

func writeFileAtomic(dst string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// HelloExample returns the example function "hello": a public function that
// answers {"name": "Ada"} with {"message": "Hello, Ada!"}.
func HelloExample() []byte {
	data, err := templateFiles.ReadFile(path.Join("templates", "hello.py"))
	if err != nil {
		panic("python sdk: embedded hello.py missing: " + err.Error())
	}
	return data
}

// validName is what `tinybase functions new` accepts: the name doubles as
// the file name and the Python function name.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// pythonKeywords cannot be used as function names because the generated
// file defines a Python function of that name.
var pythonKeywords = map[string]bool{
	"and": true, "as": true, "assert": true, "async": true, "await": true, "break": true, "class": true,
	"continue": true, "def": true, "del": true, "elif": true, "else": true, "except": true, "finally": true,
	"for": true, "from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true,
	"return": true, "try": true, "while": true, "with": true, "yield": true,
}

var functionTemplate = template.Must(template.New("function.py.tmpl").Funcs(template.FuncMap{
	"py": pythonString,
}).ParseFS(templateFiles, "templates/function.py.tmpl"))

// NewFunctionTemplate renders the boilerplate of a new function file. name
// must match ^[a-z][a-z0-9_]*$ and not be a Python keyword; an empty
// description renders as None.
func NewFunctionTemplate(name, description string) ([]byte, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q must match ^[a-z][a-z0-9_]*$", ErrInvalidName, name)
	}
	if pythonKeywords[name] {
		return nil, fmt.Errorf("%w: %q is a Python keyword", ErrInvalidName, name)
	}
	data := struct {
		Name        string
		Description string
		Class       string
	}{Name: name, Description: description, Class: className(name)}
	var buf bytes.Buffer
	if err := functionTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render function template: %w", err)
	}
	return buf.Bytes(), nil
}

// pythonString renders s as a Python string literal (None when empty). A
// JSON string is a valid Python literal, so JSON encoding gives correct
// escaping of quotes, backslashes and newlines.
func pythonString(s string) string {
	if s == "" {
		return "None"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return strings.TrimSuffix(buf.String(), "\n")
}

// className turns snake_case into CamelCase for the generated dataclasses.
func className(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	if b.Len() == 0 {
		return "Function"
	}
	return b.String()
}
