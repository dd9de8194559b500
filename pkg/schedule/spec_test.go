package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseInvalid(t *testing.T) {
	cases := []struct{ raw, field, reason string }{
		{`[]`, "schedule", "JSON object"},
		{`{}`, "method", "Unknown schedule method: None"},
		{`{"type":"cron"}`, "method", "Unknown schedule method: None"},
		{`{"method":"weekly"}`, "method", "Unknown schedule method: weekly"},
		{`{"method":"cron","cron":"0 2 * * *","every":1}`, "every", "unknown key 'every'"},
		{`{"method":"cron"}`, "cron", "need 'cron'"},
		{`{"method":"cron","cron":"0 2 * *"}`, "cron", "five fields"},
		{`{"method":"cron","cron":"0 0 2 * * *"}`, "cron", "five fields"},
		{`{"method":"cron","cron":"60 2 * * *"}`, "cron", "out of range 0-59"},
		{`{"method":"cron","cron":"0 24 * * *"}`, "cron", "out of range 0-23"},
		{`{"method":"cron","cron":"0 0 0 * *"}`, "cron", "out of range 1-31"},
		{`{"method":"cron","cron":"0 0 * 13 *"}`, "cron", "out of range 1-12"},
		{`{"method":"cron","cron":"0 0 * * 8"}`, "cron", "out of range 0-7"},
		{`{"method":"cron","cron":"0 0 * * FUNDAY"}`, "cron", "known name"},
		{`{"method":"cron","cron":"*/0 * * * *"}`, "cron", "greater than 0"},
		{`{"method":"cron","cron":"5-1 * * * *"}`, "cron", "backwards"},
		{`{"method":"cron","cron":"0 0 L * *"}`, "cron", "not a number"},
		{`{"method":"cron","cron":"0 0 30 2 *"}`, "cron", "never fires"},
		{`{"method":"cron","cron":"@reboot"}`, "cron", "unknown cron macro"},
		{`{"method":"cron","cron":"1,,2 * * * *"}`, "cron", "empty list item"},
		{`{"method":"cron","cron":"0 2 * * *","timezone":"Mars/Olympus"}`, "timezone", "unknown time zone 'Mars/Olympus'"},
		{`{"method":"cron","cron":"0 2 * * *","timezone":"Local"}`, "timezone", "unknown time zone"},
		{`{"method":"cron","cron":"0 2 * * *","timezone":""}`, "timezone", "unknown time zone"},
		{`{"method":"cron","cron":"0 2 * * *","timezone":5}`, "timezone", "must be a string"},
		{`{"method":"interval","unit":"minutes","value":0}`, "value", "greater than 0"},
		{`{"method":"interval","unit":"minutes","value":-5}`, "value", "greater than 0"},
		{`{"method":"interval","unit":"minutes","value":1.5}`, "value", "whole number"},
		{`{"method":"interval","unit":"minutes","value":"5"}`, "value", "whole number"},
		{`{"method":"interval","unit":"weeks","value":1}`, "unit", "not one of"},
		{`{"method":"interval","value":1}`, "unit", "need 'unit'"},
		{`{"method":"interval","unit":"days"}`, "value", "need 'value'"},
		{`{"method":"interval","unit":"days","value":1000000}`, "value", "100 years"},
		{`{"method":"once","date":"2026-02-30","time":"10:00"}`, "date", "not a valid"},
		{`{"method":"once","date":"2026-02-01","time":"25:00"}`, "time", "not a valid"},
		{`{"method":"once","time":"10:00"}`, "date", "need 'date'"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.raw))
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want a SpecError", c.raw, err)
			continue
		}
		if se.Field != c.field || !strings.Contains(se.Reason, c.reason) {
			t.Errorf("%s: got field %q reason %q, want %q containing %q", c.raw, se.Field, se.Reason, c.field, c.reason)
		}
	}
}

func TestParseValid(t *testing.T) {
	after := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC) // a Monday
	cases := []struct{ raw, next string }{
		{`{"method":"cron","cron":"0 12 * * *"}`, "2026-01-05T12:00:00Z"},
		{`{"method":"cron","cron":"0 12 * * *","timezone":null}`, "2026-01-05T12:00:00Z"},
		{`{"method":"cron","cron":"0 12 * * MON-fri","timezone":"Europe/Berlin","description":"noon"}`, "2026-01-05T11:00:00Z"},
		{`{"method":"cron","cron":"0 0 * * 7"}`, "2026-01-11T00:00:00Z"},
		{`{"method":"cron","cron":"0 0 * * 0"}`, "2026-01-11T00:00:00Z"},
		{`{"method":"cron","cron":"0 0 * * 5-7"}`, "2026-01-09T00:00:00Z"},
		{`{"method":"cron","cron":"0 0 1 jan *"}`, "2027-01-01T00:00:00Z"},
		{`{"method":"cron","cron":"@yearly"}`, "2027-01-01T00:00:00Z"},
		{`{"method":"cron","cron":"@monthly"}`, "2026-02-01T00:00:00Z"},
		{`{"method":"cron","cron":"@weekly"}`, "2026-01-11T00:00:00Z"},
		{`{"method":"cron","cron":"@DAILY"}`, "2026-01-06T00:00:00Z"},
		{`{"method":"cron","cron":"@hourly"}`, "2026-01-05T11:00:00Z"},
		{`{"method":"cron","cron":"10/20 * * * *"}`, "2026-01-05T10:10:00Z"},
		// Both day fields restricted: either matches (the 7th, or a Friday).
		{`{"method":"cron","cron":"0 0 7 * FRI"}`, "2026-01-07T00:00:00Z"},
		// A day field starting with '*': both must match (odd days that are Fridays).
		{`{"method":"cron","cron":"0 0 */2 * FRI"}`, "2026-01-09T00:00:00Z"},
		{`{"method":"cron","cron":"0 0 29 2 *"}`, "2028-02-29T00:00:00Z"},
		{`{"method":"interval","unit":"seconds","value":90}`, "2026-01-05T10:01:30Z"},
		{`{"method":"interval","unit":"days","value":1,"timezone":"America/New_York"}`, "2026-01-06T10:00:00Z"},
		{`{"method":"interval","unit":"hours","value":2.0}`, "2026-01-05T12:00:00Z"},
		{`{"method":"once","date":"2026-01-05","time":"18:30","timezone":"Asia/Kolkata"}`, "2026-01-05T13:00:00Z"},
		{`{"method":"once","run_date":"2026-01-05","run_time":"12:30:15.25"}`, "2026-01-05T12:30:15.25Z"},
	}
	for _, c := range cases {
		s := mustParse(t, c.raw)
		got, ok := s.Next(after)
		if !ok || got.Format(time.RFC3339Nano) != c.next {
			t.Errorf("%s: next after %v = %v (%v), want %s", c.raw, after, got, ok, c.next)
		}
	}
	if _, ok := mustParse(t, `{"method":"once","date":"2026-01-05","time":"09:59"}`).Next(after); ok {
		t.Error("a once schedule in the past has a next instant")
	}
}

// TestIntervalIsElapsedTime: a daily interval keeps 24 hours across a
// change, so its local time shifts by the change.
func TestIntervalIsElapsedTime(t *testing.T) {
	s := mustParse(t, `{"method":"interval","unit":"days","value":1,"timezone":"America/New_York"}`)
	got := formatAll(s.Upcoming(ts(t, "2026-03-07T12:00:00Z"), 2))
	if want := "2026-03-08T12:00:00Z 2026-03-09T12:00:00Z"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestPlanDue(t *testing.T) {
	grace := 10 * time.Minute
	minute := cronSpec(t, "* * * * *", "UTC")
	daily := cronSpec(t, "0 3 * * *", "Europe/Berlin")
	every := mustParse(t, `{"method":"interval","unit":"seconds","value":20}`)
	once := mustParse(t, `{"method":"once","date":"2026-06-01","time":"12:00"}`)
	cases := []struct {
		name      string
		spec      *Spec
		next, now string
		run       string // "" when missed
		following string // "" when none
	}{
		{"on time", minute, "2026-06-01T12:00:00Z", "2026-06-01T12:00:00.003Z", "2026-06-01T12:00:00Z", "2026-06-01T12:01:00Z"},
		{"coalesced minutes", minute, "2026-06-01T12:00:00Z", "2026-06-01T12:05:30Z", "2026-06-01T12:05:00Z", "2026-06-01T12:06:00Z"},
		{"long downtime, latest within grace", minute, "2026-01-01T00:00:00Z", "2026-06-01T12:05:30Z", "2026-06-01T12:05:00Z", "2026-06-01T12:06:00Z"},
		{"daily missed beyond grace", daily, "2026-06-01T01:00:00Z", "2026-06-01T05:00:00Z", "", "2026-06-02T01:00:00Z"},
		{"daily within grace", daily, "2026-06-01T01:00:00Z", "2026-06-01T01:09:00Z", "2026-06-01T01:00:00Z", "2026-06-02T01:00:00Z"},
		{"interval coalesced", every, "2026-06-01T12:00:00Z", "2026-06-01T12:01:05Z", "2026-06-01T12:01:00Z", "2026-06-01T12:01:20Z"},
		{"interval beyond grace", every, "2026-06-01T12:00:00Z", "2026-06-01T12:30:05Z", "2026-06-01T12:30:00Z", "2026-06-01T12:30:20Z"},
		{"once late within grace", once, "2026-06-01T12:00:00Z", "2026-06-01T12:09:00Z", "2026-06-01T12:00:00Z", ""},
		{"once missed", once, "2026-06-01T12:00:00Z", "2026-06-01T13:00:00Z", "", ""},
	}
	for _, c := range cases {
		p := c.spec.PlanDue(ts(t, c.next), ts(t, c.now), grace)
		run := ""
		if p.Run {
			run = p.Fire.Format(time.RFC3339Nano)
		} else if !p.Missed || !p.MissedAt.Equal(ts(t, c.next)) {
			t.Errorf("%s: neither run nor missed at next: %+v", c.name, p)
		}
		following := ""
		if p.HasNext {
			following = p.Next.Format(time.RFC3339Nano)
		}
		if run != c.run || following != c.following {
			t.Errorf("%s: run %q next %q, want run %q next %q", c.name, run, following, c.run, c.following)
		}
	}
}
