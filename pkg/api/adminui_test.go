package api_test

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tinybase/tinybase/admin"
	"github.com/tinybase/tinybase/internal/testenv"
)

// TestAdminUIServing checks that the embedded single-page app answers deep
// links under /admin and /auth with its index.html (so a reload or an
// emailed /auth/password-reset/<token> link works), and that the built
// assets it names are served from /admin/assets with the right types.
func TestAdminUIServing(t *testing.T) {
	index, err := fs.ReadFile(admin.Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	js := regexp.MustCompile(`/admin/assets/[A-Za-z0-9_.-]+\.js`).Find(index)
	if js == nil {
		t.Fatalf("index.html names no /admin/assets/*.js; is admin/dist a Vite build?\n%s", index)
	}

	env := testenv.New(t)
	_, base := startAPI(t, env)

	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	for _, path := range []string{
		"/admin", "/admin/", "/admin/collections", "/admin/collections/books/schema",
		"/auth/login", "/auth/register", "/auth/password-reset/0123abcd",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("content type %q, want text/html", ct)
			}
			if body != string(index) {
				t.Errorf("body is not the app's index.html:\n%.300s", body)
			}
		})
	}

	resp, body := get(string(js))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", js, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("%s: content type %q, want JavaScript", js, ct)
	}
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		t.Errorf("%s: served HTML instead of the script", js)
	}

	if resp, _ = get("/admin/assets/no-such-chunk.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: status %d, want 404", resp.StatusCode)
	}

	// The API keeps its JSON 404 rather than falling back to the app.
	resp, body = get("/api/no-such-route")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "detail") {
		t.Errorf("/api/no-such-route: %d %s", resp.StatusCode, body)
	}
}

// TestAdminUIFromFolder checks that admin.static_dir naming a folder serves
// that folder's build instead of the embedded one, deep links included.
func TestAdminUIFromFolder(t *testing.T) {
	env := testenv.New(t)
	dir := filepath.Join(env.Dir, "my-admin")
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	const page = "<!doctype html><title>my admin</title>"
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "app.js"), []byte("console.log(1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	env.Config.Admin.StaticDir = "my-admin"
	_, base := startAPI(t, env)
	for path, want := range map[string]string{"/admin/users": page, "/auth/login": page,
		"/admin/assets/app.js": "console.log(1)"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s: %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}
}
