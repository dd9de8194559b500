package activity

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// List limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Filter selects entries. Zero fields select everything.
type Filter struct {
	// Kind matches an entry's kind exactly or as a dotted prefix: "record"
	// matches "record.created" and "record.deleted", "record.created" only
	// itself (and "record.created.…").
	Kind string
	// ActorID matches the user who caused the entry.
	ActorID string
	// Subject matches exactly or as a '/'-separated prefix: "notes"
	// matches "notes" and "notes/<record id>".
	Subject string
	// Since and Until bound At: Since <= At < Until.
	Since, Until time.Time
	// Limit is 1..MaxLimit; 0 means DefaultLimit.
	Limit int
	// Cursor continues a previous page: its NextCursor.
	Cursor string
}

// Page is one page of entries, newest first.
type Page struct {
	Items []Entry `json:"items"`
	// NextCursor fetches the next (older) page; nil on the last one.
	NextCursor *string `json:"next_cursor"`
}

// List returns entries matching f, newest first (by time, then by id).
func (l *Log) List(ctx context.Context, f Filter) (Page, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return Page{}, fmt.Errorf("limit must be between 1 and %d", MaxLimit)
	}
	l.flush(ctx)
	var where []string
	var args []any
	if f.Kind != "" {
		where = append(where, `(kind = ? OR (kind > ? AND kind < ?))`)
		// Every kind that starts with "<prefix>." sorts between
		// "<prefix>." and "<prefix>/" ('/' follows '.'), which keeps the
		// match on the index.
		args = append(args, f.Kind, f.Kind+".", f.Kind+"/")
	}
	if f.ActorID != "" {
		where = append(where, `actor_id = ?`)
		args = append(args, f.ActorID)
	}
	if f.Subject != "" {
		where = append(where, `(subject = ? OR (subject > ? AND subject < ?))`)
		args = append(args, f.Subject, f.Subject+"/", f.Subject+"0") // '0' follows '/'
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, store.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, store.FormatTime(f.Until))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		where = append(where, `(at < ? OR (at = ? AND id < ?))`)
		args = append(args, at, at, id)
	}
	q := `SELECT id, at, kind, actor_id, subject, message, data FROM activity`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	items, err := store.Collect(ctx, l.db.R, scanEntry, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list activity: %w", err)
	}
	p := Page{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		last := p.Items[limit-1]
		c := encodeCursor(last.At, last.ID)
		p.NextCursor = &c
	}
	return p, nil
}

func scanEntry(r store.Scanner) (Entry, error) {
	var e Entry
	var data string
	if err := r.Scan(&e.ID, &e.At, &e.Kind, &e.ActorID, &e.Subject, &e.Message, &data); err != nil {
		return e, err
	}
	e.Data = []byte(data)
	return e, nil
}

// A cursor is the position of the last entry of a page: its time and id.
func encodeCursor(at string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at + "|" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (string, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", 0, ErrInvalidCursor
	}
	at, idText, ok := strings.Cut(string(raw), "|")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id < 0 {
		return "", 0, ErrInvalidCursor
	}
	if _, err := time.Parse(store.TimeFormat, at); err != nil {
		return "", 0, ErrInvalidCursor
	}
	return at, id, nil
}

// After returns up to limit entries with an id above afterID, oldest
// first: what a stream that reconnects with Last-Event-ID missed.
func (l *Log) After(ctx context.Context, afterID int64, limit int) ([]Entry, error) {
	items, err := store.Collect(ctx, l.db.R, scanEntry,
		`SELECT id, at, kind, actor_id, subject, message, data FROM activity WHERE id > ? ORDER BY id LIMIT ?`,
		afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list activity after %d: %w", afterID, err)
	}
	return items, nil
}
