package schedule

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

func mustParse(t testing.TB, raw string) *Spec {
	t.Helper()
	s, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return s
}

func cronSpec(t testing.TB, expr, zone string) *Spec {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"method": "cron", "cron": expr, "timezone": zone})
	return mustParse(t, string(raw))
}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func formatAll(list []time.Time) []string {
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// TestAcceptance pins the examples the scheduling docs give.
func TestAcceptance(t *testing.T) {
	cases := []struct {
		expr, zone, after string
		want              []string
	}{
		{"0 2 * * *", "America/New_York", "2026-03-08T06:50:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z",
			[]string{"2026-11-02T06:30:00Z"}},
		// …because that day it fired once, at 05:30Z (01:30 EDT).
		{"30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
	}
	for _, c := range cases {
		got := formatAll(cronSpec(t, c.expr, c.zone).Upcoming(ts(t, c.after), len(c.want)))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s in %s after %s: got %v, want %v", c.expr, c.zone, c.after, got, c.want)
		}
	}
}

// TestCronVectors compares with instants computed by
// testdata/gen_vectors.py (Python zoneinfo, brute force over minutes).
func TestCronVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/cron.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Zone, Cron, After string
		Next              []string
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 500 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, v := range vectors {
		got := formatAll(cronSpec(t, v.Cron, v.Zone).Upcoming(ts(t, v.After), len(v.Next)))
		if fmt.Sprint(got) != fmt.Sprint(v.Next) {
			t.Errorf("%q in %s after %s:\n got  %v\n want %v", v.Cron, v.Zone, v.After, got, v.Next)
		}
	}
}

// TestOnceVectors checks once schedules around changes: repeated local
// times fire at their first pass, skipped ones at the change.
func TestOnceVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/once.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct{ Zone, Date, Time, Instant string }
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		raw, _ := json.Marshal(map[string]string{"method": "once", "date": v.Date, "time": v.Time, "timezone": v.Zone})
		s := mustParse(t, string(raw))
		got, ok := s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		if !ok || got.Format(time.RFC3339) != v.Instant {
			t.Errorf("once %s %s in %s: got %v (%v), want %s", v.Date, v.Time, v.Zone, got, ok, v.Instant)
		}
		if _, ok := s.Next(got); ok {
			t.Errorf("once %s %s in %s fires again after %v", v.Date, v.Time, v.Zone, got)
		}
	}
}
