package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*
var builtin embed.FS

// Template names. Each is up to three files: <name>.subject.txt,
// <name>.txt (plain text body, required) and <name>.html (optional HTML
// body).
const (
	PasswordReset = "password_reset"
)

// Templates renders emails from the built-in templates, each file of which
// a project can replace by putting a file of the same name in Dir. Files
// are read at every render, so an edited template applies to the next
// email without a restart. HTML bodies are rendered with html/template,
// which escapes the data; subjects and text bodies with text/template.
type Templates struct {
	// Dir is the project's override folder; "" uses the built-ins only.
	Dir string
}

// Render fills template name with data into a message for to.
func (t Templates) Render(name, to string, data any) (Message, error) {
	m := Message{To: to}
	subject, err := t.read(name + ".subject.txt")
	if err != nil {
		return m, err
	}
	if m.Subject, err = renderText(name+".subject", subject, data); err != nil {
		return m, err
	}
	m.Subject = strings.TrimSpace(m.Subject)
	text, err := t.read(name + ".txt")
	if err != nil {
		return m, err
	}
	if m.Text, err = renderText(name+".txt", text, data); err != nil {
		return m, err
	}
	html, err := t.read(name + ".html")
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	tpl, err := htmltemplate.New(name + ".html").Option("missingkey=error").Parse(html)
	if err != nil {
		return m, fmt.Errorf("email template %s.html: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return m, fmt.Errorf("email template %s.html: %w", name, err)
	}
	m.HTML = buf.String()
	return m, nil
}

// read returns the project's file when it exists, else the built-in one.
func (t Templates) read(file string) (string, error) {
	if t.Dir != "" {
		data, err := os.ReadFile(filepath.Join(t.Dir, file))
		if err == nil {
			return string(data), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("email template: %w", err)
		}
	}
	data, err := builtin.ReadFile("templates/" + file)
	if err != nil {
		return "", fmt.Errorf("email template %s: %w", file, err)
	}
	return string(data), nil
}

func renderText(name, src string, data any) (string, error) {
	tpl, err := texttemplate.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("email template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("email template %s: %w", name, err)
	}
	return buf.String(), nil
}
