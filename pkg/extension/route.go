package extension

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tinybase/tinybase/pkg/extension/wire"
	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// RouteTimeout bounds one route call when Options.RouteTimeout is 0.
const RouteTimeout = 30 * time.Second

// RoutePath checks the raw (still percent-encoded) path of a request below
// /api/ext/<name> and returns it percent-decoded, the form routes are
// matched against and extensions receive. It refuses, with ErrBadPath,
// dot-segments ("." or "..", raw or encoded) and encoded slashes or
// backslashes (and raw backslashes): each could make the path the
// extension sees name a route other than the one whose auth TinyBase
// applied. Once those are gone, decoding cannot change the segments.
func RoutePath(raw string) (string, error) {
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	if strings.Contains(raw, `\`) {
		return "", fmt.Errorf("%w: backslash", ErrBadPath)
	}
	for _, seg := range strings.Split(raw[1:], "/") {
		low := strings.ToLower(seg)
		if strings.Contains(low, "%2f") || strings.Contains(low, "%5c") {
			return "", fmt.Errorf("%w: encoded slash", ErrBadPath)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("%w: bad percent-encoding", ErrBadPath)
		}
		if dec == "." || dec == ".." {
			return "", fmt.Errorf("%w: dot-segment", ErrBadPath)
		}
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: bad percent-encoding", ErrBadPath)
	}
	return dec, nil
}

// MatchRoute finds the route an enabled extension declared for method and
// path (below /api/ext/<name>, as RoutePath returns it). ErrNotFound when
// the extension is not running or has no such route; the caller applies
// the route's Auth before calling Route. HEAD is served by a GET route
// unless a HEAD route matches.
func (m *Manager) MatchRoute(name, method, path string) (RouteSpec, error) {
	run := m.running(name)
	if run == nil {
		return RouteSpec{}, ErrNotFound
	}
	routes := run.row.Manifest.Routes
	i := wire.FindRoute(len(routes), func(i int) (string, string) { return routes[i].Method, routes[i].Path },
		method, path)
	if i < 0 {
		return RouteSpec{}, ErrNotFound
	}
	return routes[i], nil
}

// Route forwards one HTTP request to an extension. Errors: ErrNotFound,
// ErrUnavailable (its process is not running), ErrTimeout, ErrTooLarge,
// ErrRouteFailed (it answered an error; the text is for the log).
func (m *Manager) Route(ctx context.Context, name string, req *extv1.RouteRequest) (*extv1.RouteResponse, error) {
	run := m.running(name)
	if run == nil {
		return nil, ErrNotFound
	}
	c, err := run.proc.conn()
	if err != nil {
		return nil, err
	}
	req.SettingsVersion = m.settingsVersion()
	callCtx, cancel := context.WithTimeout(ctx, m.opts.RouteTimeout)
	defer cancel()
	resp, err := c.Route(callCtx, req)
	if err == nil {
		return resp, nil
	}
	switch code := status.Code(err); {
	case code == codes.DeadlineExceeded || (errors.Is(callCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil):
		return nil, fmt.Errorf("%w: %s: no answer within %s", ErrTimeout, name, m.opts.RouteTimeout)
	case code == codes.ResourceExhausted:
		return nil, fmt.Errorf("%w: %s: %v", ErrTooLarge, name, err)
	case code == codes.Unavailable || code == codes.Canceled:
		run.proc.nudge()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, err)
	default:
		run.proc.nudge()
		return nil, fmt.Errorf("%w: %s: %v", ErrRouteFailed, name, err)
	}
}
