// Package configdoc renders docs/configuration.md's reference table from
// the doc comments and tags of the config structs, so the page cannot
// drift from the code.
package configdoc

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

// Render returns the markdown reference for the Config type declared in
// the Go source file at path.
func Render(path string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return "", err
	}
	types := map[string]*ast.StructType{}
	docs := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok {
				continue
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				types[ts.Name.Name] = st
				docs[ts.Name.Name] = strings.TrimSpace(gd.Doc.Text())
			}
		}
	}
	root, ok := types["Config"]
	if !ok {
		return "", fmt.Errorf("%s: no Config struct", path)
	}
	var buf bytes.Buffer
	for _, field := range root.Fields.List {
		section := tagOf(field, "toml")
		if section == "" || section == "-" {
			continue
		}
		ident, ok := field.Type.(*ast.Ident)
		if !ok {
			continue
		}
		st := types[ident.Name]
		if st == nil {
			continue
		}
		fmt.Fprintf(&buf, "### [%s]\n\n", section)
		if d := docs[ident.Name]; d != "" {
			fmt.Fprintf(&buf, "%s\n\n", oneLine(d))
		}
		buf.WriteString("| key | environment | type | meaning |\n| --- | --- | --- | --- |\n")
		for _, sf := range st.Fields.List {
			key := tagOf(sf, "toml")
			if key == "" || key == "-" {
				continue
			}
			env := tagOf(sf, "env")
			if env != "" {
				env = "`" + env + "`"
			}
			doc := oneLine(sf.Doc.Text())
			if tagOf(sf, "secret") == "true" {
				doc += " Secret: masked by `config check`."
			}
			fmt.Fprintf(&buf, "| `%s` | %s | %s | %s |\n", key, env, typeName(sf.Type), doc)
		}
		buf.WriteString("\n")
	}
	return buf.String(), nil
}

func tagOf(f *ast.Field, key string) string {
	if f.Tag == nil {
		return ""
	}
	return reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get(key)
}

func typeName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.ArrayType:
		return "list of " + typeName(t.Elt)
	}
	return "value"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
