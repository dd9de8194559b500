package extension

import (
	"context"
	"fmt"
	"strings"
	"time"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// RouteTimeout bounds one route call.
const RouteTimeout = 30 * time.Second

// MatchRoute finds the route an enabled extension declared for method and
// path (below /api/ext/<name>). ErrNotFound when the extension is not
// running or has no such route; the caller applies the route's Auth
// before calling Route.
func (m *Manager) MatchRoute(name, method, path string) (RouteSpec, error) {
	m.mu.Lock()
	run := m.procs[name]
	m.mu.Unlock()
	if run == nil {
		return RouteSpec{}, ErrNotFound
	}
	for _, r := range run.row.Manifest.Routes {
		if matchRoute(r, method, path) {
			return r, nil
		}
	}
	return RouteSpec{}, ErrNotFound
}

func matchRoute(r RouteSpec, method, path string) bool {
	if !strings.EqualFold(r.Method, method) && !(method == "HEAD" && r.Method == "GET") {
		return false
	}
	if prefix, ok := strings.CutSuffix(r.Path, "/*"); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return r.Path == path
}

// Route forwards one HTTP request to an extension. ErrUnavailable when
// its process is not running.
func (m *Manager) Route(ctx context.Context, name string, req *extv1.RouteRequest) (*extv1.RouteResponse, error) {
	m.mu.Lock()
	run := m.procs[name]
	m.mu.Unlock()
	if run == nil {
		return nil, ErrNotFound
	}
	c, err := run.proc.conn()
	if err != nil {
		return nil, err
	}
	req.SettingsVersion = m.settingsVersion()
	ctx, cancel := context.WithTimeout(ctx, RouteTimeout)
	defer cancel()
	resp, err := c.Route(ctx, req)
	if err != nil {
		run.proc.nudge()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, err)
	}
	return resp, nil
}
