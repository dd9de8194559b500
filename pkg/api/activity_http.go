package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/activity"
)

// activityStreamPath is the one route that also takes its access token
// from the query string (?token=): a browser's EventSource cannot set an
// Authorization header.
const activityStreamPath = "/api/admin/activity/stream"

// streamKeepalive is how often an idle event stream sends a comment, which
// keeps proxies from closing it and notices clients that went away.
const streamKeepalive = 15 * time.Second

// activityRoutes serves the activity log under /api/admin (all admin).
func (s *Server) activityRoutes(ad fiber.Router) {
	ad.Get("/activity", s.listActivity)
	ad.Get("/activity/stream", s.streamActivity)
}

// timeQuery reads an RFC 3339 query parameter; "" is the zero time.
func timeQuery(c *fiber.Ctx, name string) (time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return t, withField(unprocessable(name+" must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z"), name, "format")
	}
	return t, nil
}

func (s *Server) listActivity(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", activity.DefaultLimit, 1, activity.MaxLimit)
	if err != nil {
		return err
	}
	since, err := timeQuery(c, "since")
	if err != nil {
		return err
	}
	until, err := timeQuery(c, "until")
	if err != nil {
		return err
	}
	kind := c.Query("kind")
	if kind != "" && !activity.ValidKind(kind) {
		return withField(unprocessable("kind must be lower-case letters, digits, '.', '_' and '-'"), "kind", "format")
	}
	page, err := s.activity.List(c.UserContext(), activity.Filter{Kind: kind, ActorID: c.Query("actor"),
		Subject: c.Query("subject"), Since: since, Until: until, Limit: limit, Cursor: c.Query("cursor")})
	if errors.Is(err, activity.ErrInvalidCursor) {
		return withField(unprocessable("cursor is not one this endpoint returned"), "cursor", "invalid")
	}
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// streamAuthRecheck is how often a stream checks that its token still
// grants admin rights before sending an entry; idle streams check at every
// keepalive.
const streamAuthRecheck = time.Second

// streamReplayLimit caps how many missed entries a reconnecting stream
// is sent before the live ones.
const streamReplayLimit = 500

// streamActivity sends every new entry as a server-sent event: "id:" is
// the entry id and "data:" the entry as JSON. Comments keep an idle
// stream open. The stream ends when the client goes away, falls too far
// behind, or the api shuts down; EventSource then reconnects by itself
// and sends Last-Event-ID, and the entries written in between (up to
// streamReplayLimit) come first.
func (s *Server) streamActivity(c *fiber.Ctx) error {
	// The stream outlives the request's authentication: keep the token to
	// check again while it runs, so a logout, a deleted user or lost admin
	// rights end it.
	token := bearerToken(c)
	if token == "" {
		token = c.Query("token")
	}
	stillAdmin := func() bool {
		who, _, ok := s.tokenCaller(token)
		return ok && who.IsAdmin
	}
	var lastID int64
	if v := c.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return withField(unprocessable("Last-Event-ID must be an entry id"), "Last-Event-ID", "format")
		}
		lastID = n
	}
	// Subscribe before reading the missed entries, so none falls between.
	entries, cancel := s.activity.Subscribe()
	var missed []activity.Entry
	if lastID > 0 {
		var err error
		if missed, err = s.activity.After(c.UserContext(), lastID, streamReplayLimit); err != nil {
			cancel()
			return err
		}
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // tell nginx not to buffer the stream
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		keepalive := time.NewTicker(streamKeepalive)
		defer keepalive.Stop()
		if _, err := w.WriteString(": activity stream\nretry: 3000\n\n"); err != nil {
			return
		}
		sent := lastID
		for _, e := range missed {
			if writeEvent(w, e) != nil {
				return
			}
			sent = e.ID
		}
		if w.Flush() != nil {
			return
		}
		checked := time.Now()
		for {
			select {
			case e, ok := <-entries:
				if !ok {
					return
				}
				if e.ID <= sent {
					continue // already sent from the replay
				}
				if time.Since(checked) > streamAuthRecheck {
					if !stillAdmin() {
						return
					}
					checked = time.Now()
				}
				if writeEvent(w, e) != nil {
					return
				}
			case <-keepalive.C:
				if !stillAdmin() {
					return
				}
				checked = time.Now()
				if _, err := w.WriteString(": keepalive\n\n"); err != nil {
					return
				}
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	})
	return nil
}

// writeEvent writes one entry as a server-sent event.
func writeEvent(w *bufio.Writer, e activity.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.ID, data)
	return err
}
