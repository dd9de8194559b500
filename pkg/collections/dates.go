package collections

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// dateLayout is the ISO 8601 calendar date, the stored form of date fields.
const dateLayout = "2006-01-02"

// dateTimeLayouts are tried in order. Values without an offset are taken as
// UTC, as TinyBase itself serves timestamps without one.
var dateTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// checkTime validates a date or datetime value and returns its stored form:
// "YYYY-MM-DD" for dates, RFC 3339 UTC with microseconds (store.TimeFormat)
// for datetimes. Both forms sort chronologically as strings.
func checkTime(typ string, v json.RawMessage) (json.RawMessage, *FieldError) {
	s, ok := decodeString(v)
	if !ok {
		return nil, typeError("must be a string")
	}
	s = strings.TrimSpace(s)
	if d, err := time.Parse(dateLayout, s); err == nil {
		if typ == TypeDate {
			return encodeString(d.Format(dateLayout)), nil
		}
		return encodeString(store.FormatTime(d)), nil
	}
	var t time.Time
	parsed := false
	for _, layout := range dateTimeLayouts {
		if x, err := time.Parse(layout, s); err == nil {
			t, parsed = x, true
			break
		}
	}
	if !parsed {
		if typ == TypeDate {
			return nil, formatError("must be a date (YYYY-MM-DD) or an RFC 3339 date-time at midnight")
		}
		return nil, formatError("must be an RFC 3339 date-time or a date (YYYY-MM-DD)")
	}
	if typ == TypeDate {
		// A date-time names a calendar date only at midnight; anything else
		// would silently lose the time. The date is taken as written, in the
		// value's own offset.
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			return nil, formatError("must be a date; a date-time is accepted only at midnight")
		}
		return encodeString(t.Format(dateLayout)), nil
	}
	if u := t.UTC(); u.Year() < 0 || u.Year() > 9999 {
		return nil, formatError("is outside the years 0000 to 9999 in UTC")
	}
	return encodeString(store.FormatTime(t)), nil
}

func formatError(msg string) *FieldError { return &FieldError{Code: CodeFormat, Message: msg} }
