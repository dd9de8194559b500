package schedule

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// propertyZones have daylight-saving changes (or had them recently), on
// both sides of the equator, with one-hour, half-hour and midnight changes.
var propertyZones = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Anchorage",
	"America/Halifax", "America/St_Johns", "America/Havana", "America/Santiago", "America/Asuncion",
	"America/Mexico_City", "America/Sao_Paulo", "Europe/London", "Europe/Berlin", "Europe/Athens",
	"Europe/Dublin", "Africa/Casablanca", "Asia/Beirut", "Asia/Jerusalem", "Australia/Sydney",
	"Australia/Adelaide", "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham", "Antarctica/Troll",
}

// nights returns the instants at which loc's offset changes in
// [from, until).
func nights(loc *time.Location, from, until time.Time) []time.Time {
	var out []time.Time
	t := from.In(loc)
	_, prev := t.Zone()
	for {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(until) {
			return out
		}
		t = end.In(loc)
		if _, off := t.Zone(); off != prev {
			out = append(out, end)
			prev = off
		}
	}
}

// oracle finds fire instants in (after, until] by walking every UTC
// minute and reading the local clock with the time package, the way
// testdata/gen_vectors.py does: an algorithm unlike the field search in
// Cron.Next.
func oracle(c *Cron, loc *time.Location, after, until time.Time) []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if t.After(after) && (len(out) == 0 || out[len(out)-1].Before(t)) {
			out = append(out, t)
		}
	}
	wallMatches := func(w time.Time) bool {
		return c.matchDay(int(w.Month()), w.Day(), int(w.Weekday())) && c.matchHour(w.Hour()) && c.matchMinute(w.Minute())
	}
	u := after.Truncate(time.Minute)
	_, prevOff := u.Add(-time.Minute).In(loc).Zone()
	var offsets []int
	for v := u.Add(-6 * time.Hour); !v.After(until); v = v.Add(15 * time.Minute) {
		if _, o := v.In(loc).Zone(); !containsInt(offsets, o) {
			offsets = append(offsets, o)
		}
	}
	for ; !u.After(until); u = u.Add(time.Minute) {
		l := u.In(loc)
		_, off := l.Zone()
		if off > prevOff {
			// Forward change: the local times [u+prev, u+off) are skipped.
			for w := naive(u, time.UTC).Add(time.Duration(prevOff) * time.Second); w.Before(naive(u, time.UTC).Add(time.Duration(off) * time.Second)); w = w.Add(time.Minute) {
				if wallMatches(w) {
					add(u)
					break
				}
			}
		}
		prevOff = off
		w := naive(u, loc)
		if !wallMatches(w) {
			continue
		}
		// A second pass: the same wall time showed earlier under a larger
		// offset o, at u-(o-off).
		second := false
		for _, o := range offsets {
			if o > off {
				if _, got := u.Add(-time.Duration(o-off) * time.Second).In(loc).Zone(); got == o {
					second = true
				}
			}
		}
		if !second || c.hourRepeats {
			add(u)
		}
	}
	return out
}

func randomField(r *rand.Rand, lo, hi int, names []string) string {
	pick := func() string {
		v := lo + r.Intn(hi-lo+1)
		if names != nil && r.Intn(3) == 0 && v-lo < len(names) {
			return names[v-lo]
		}
		return fmt.Sprint(v)
	}
	switch r.Intn(7) {
	case 0:
		return "*"
	case 1:
		return fmt.Sprintf("*/%d", 1+r.Intn(4))
	case 2:
		a := lo + r.Intn(hi-lo+1)
		b := a + r.Intn(hi-a+1)
		return fmt.Sprintf("%d-%d", a, b)
	case 3:
		a := lo + r.Intn(hi-lo+1)
		b := a + r.Intn(hi-a+1)
		return fmt.Sprintf("%d-%d/%d", a, b, 1+r.Intn(3))
	case 4:
		return pick() + "," + pick()
	default:
		return pick()
	}
}

func randomCron(r *rand.Rand) string {
	days := []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	minute := randomField(r, 0, 59, nil)
	if r.Intn(2) == 0 {
		minute = []string{"0", "30", "*/15", "45", "0,30", "*/20"}[r.Intn(6)]
	}
	hour := randomField(r, 0, 23, nil)
	if r.Intn(2) == 0 {
		hour = []string{"1", "2", "3", "0", "23", "*", "*/2", "1-3", "0-4/2", "2,3"}[r.Intn(10)]
	}
	dom, dow := "*", "*"
	switch r.Intn(4) {
	case 0:
		dom = randomField(r, 1, 31, nil)
	case 1:
		dow = randomField(r, 0, 6, days)
	case 2:
		dom, dow = randomField(r, 1, 31, nil), randomField(r, 0, 6, days)
	}
	return strings.Join([]string{minute, hour, dom, "*", dow}, " ")
}

// TestPropertyDSTNights walks whole nights around every offset change of
// 2025–2027 in many zones, with random expressions, and checks Next
// against the brute-force oracle: same instants, strictly increasing,
// nothing missing, nothing twice.
func TestPropertyDSTNights(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	exprs := []string{"* * * * *", "0 2 * * *", "30 1 * * *", "30 2 * * *", "0 * * * *", "*/15 * * * *",
		"0 */2 * * *", "15 1-3 * * *", "0 0 * * *", "30 23 * * *", "@hourly"}
	for i := 0; i < 25; i++ {
		exprs = append(exprs, randomCron(r))
	}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	checked := 0
	for _, zone := range propertyZones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, change := range nights(loc, from, until) {
			// The whole local night: 14 hours either side of the change.
			start, end := change.Add(-14*time.Hour), change.Add(14*time.Hour)
			for _, expr := range exprs {
				c, err := ParseCron(expr)
				if err != nil {
					continue // e.g. a random day-of-month that no month has
				}
				want := oracle(c, loc, start, end)
				s := &Spec{Method: MethodCron, Timezone: zone, Location: loc, Cron: c}
				var got []time.Time
				for at := start; ; {
					n, ok := s.Next(at)
					if !ok || n.After(end) {
						break
					}
					if !n.After(at) {
						t.Fatalf("%s in %s: Next(%v) = %v is not after it", expr, zone, at, n)
					}
					got = append(got, n)
					at = n
				}
				if fmt.Sprint(formatAll(got)) != fmt.Sprint(formatAll(want)) {
					t.Errorf("%q in %s around %v:\n got  %v\n want %v", expr, zone, change, formatAll(got), formatAll(want))
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d nights checked", checked)
	}
	t.Logf("%d expression-nights checked", checked)
}
