package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/extension"
)

func TestExtensionRoutePathsWithDotSegmentsAreRefused(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{log: log}
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(log)})
	app.All("/api/ext/:name/*", s.extensionRoute)
	for _, path := range []string{"/api/ext/probe/files/../secret", "/api/ext/probe/files/%2e%2e/secret",
		"/api/ext/probe/files/..%2Fsecret", "/api/ext/probe/./files/x", "/api/ext/probe/files/a%5cb"} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "'..'") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestExtensionErrorMessages(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e, ok := extensionError("", fmt.Errorf("install: %w", &extension.ExistsError{Name: "wordfilter"})).(*Error)
	if !ok || e.Status != 400 ||
		e.Message != "Extension 'wordfilter' is already installed; uninstall it first to reinstall" {
		t.Fatalf("exists: %#v", e)
	}
	for err, want := range map[error]int{
		fmt.Errorf("%w: probe: slow", extension.ErrTimeout):          504,
		fmt.Errorf("%w: probe: big", extension.ErrTooLarge):          502,
		fmt.Errorf("%w: probe: down", extension.ErrUnavailable):      503,
		fmt.Errorf("%w: probe: go detail", extension.ErrRouteFailed): 500,
	} {
		e, ok := s.extensionRouteError("probe", err).(*Error)
		if !ok || e.Status != want || strings.Contains(e.Message, "detail") || strings.Contains(e.Message, "down") ||
			!strings.Contains(e.Message, "Extension 'probe'") {
			t.Errorf("%v: %#v, want %d", err, e, want)
		}
	}
	e, _ = s.extensionRouteError("probe", fmt.Errorf("%w: probe: big", extension.ErrTooLarge)).(*Error)
	if !strings.Contains(e.Message, "answer too large") {
		t.Errorf("too large: %q", e.Message)
	}
}
