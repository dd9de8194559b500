package configdoc

import (
	"os"
	"strings"
	"testing"
)

const (
	begin = "<!-- reference:begin -->"
	end   = "<!-- reference:end -->"
)

// TestDocUpToDate fails when docs/configuration.md does not contain the
// reference generated from pkg/config. Run with UPDATE=1 to rewrite it.
func TestDocUpToDate(t *testing.T) {
	ref, err := Render("../../pkg/config/config.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ref, "TINYBASE_SERVER_PORT") || !strings.Contains(ref, "### [bus]") {
		t.Fatalf("reference misses known keys:\n%s", ref)
	}
	const doc = "../../docs/configuration.md"
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s / %s markers", doc, begin, end)
	}
	want := text[:i+len(begin)] + "\n\n" + ref + text[j:]
	if want == text {
		return
	}
	if os.Getenv("UPDATE") == "1" {
		if err := os.WriteFile(doc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is out of date with pkg/config; run UPDATE=1 go test ./internal/configdoc", doc)
}
