package schedule

import "time"

// maxSearchDays bounds the search for the next cron day. An expression that
// can fire at all fires within 8 years (29 February skips 2100); a little
// more covers the day before and after.
const maxSearchDays = 9*366 + 2

// Next returns the first fire instant strictly after the instant after,
// with ok false when there is none (a once schedule whose moment has
// passed). The result is in UTC at Precision.
//
// Semantics (docs/scheduling.md):
//   - once: the local date and time in the zone; a skipped local time fires
//     at the first instant after the jump, a repeated one at its first pass.
//   - interval: after plus the interval, in elapsed time; the zone plays no
//     part. A schedule's instants chain from its previous instant, so they
//     do not drift.
//   - cron: the next local wall time matching the fields. A matching local
//     time skipped by a forward change fires once, at the first instant
//     after the jump; in a repeated hour, expressions whose hour field is
//     fixed fire in the first pass only, and those whose hour field is '*'
//     or stepped fire in both.
func (s *Spec) Next(after time.Time) (time.Time, bool) {
	after = after.UTC()
	var t time.Time
	switch s.Method {
	case MethodOnce:
		t = resolveWall(s.wall, s.Location)
		if !t.After(after) {
			return time.Time{}, false
		}
	case MethodInterval:
		t = after.Add(s.Every).Truncate(Precision)
	case MethodCron:
		var ok bool
		if t, ok = s.Cron.Next(after, s.Location); !ok {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Upcoming returns up to n fire instants after the instant after, each
// following the one before.
func (s *Spec) Upcoming(after time.Time, n int) []time.Time {
	var out []time.Time
	for len(out) < n {
		t, ok := s.Next(after)
		if !ok {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}

// Next returns the first instant strictly after after at which the
// expression fires in loc.
func (c *Cron) Next(after time.Time, loc *time.Location) (time.Time, bool) {
	// Start one local day early: instants of a repeated period can belong
	// to a wall date before the one after shows.
	w := naive(after, loc)
	day := time.Date(w.Year(), w.Month(), w.Day()-1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < maxSearchDays; i++ {
		if t, ok, steady := c.inDay(day, after, loc); ok {
			if !steady {
				// A repeated period may straddle midnight: the next day
				// can hold an earlier instant.
				if t2, ok2, _ := c.inDay(day.AddDate(0, 0, 1), after, loc); ok2 && t2.Before(t) {
					t = t2
				}
			}
			return t, true
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}

// inDay returns the earliest fire instant after after on the local day
// starting at the naive midnight day, and whether one offset held all day.
func (c *Cron) inDay(day, after time.Time, loc *time.Location) (time.Time, bool, bool) {
	_, m, d := day.Date()
	if !c.matchDay(int(m), d, int(day.Weekday())) {
		return time.Time{}, false, true
	}
	z := zoneAround(day, loc)
	t, ok := c.nextInDay(&z, day, after, loc)
	return t, ok, z.steady
}

// nextInDay returns the earliest fire instant after after among the wall
// times of the local day starting at the naive midnight day.
func (c *Cron) nextInDay(z *dayZone, day, after time.Time, loc *time.Location) (time.Time, bool) {
	if z.steady {
		// One offset all day: instants follow wall times in order, so the
		// first matching wall time past after's is the answer.
		off := time.Duration(z.offset) * time.Second
		aw := after.Add(off) // after's wall time at this offset
		for h := 0; h < 24; h++ {
			if !c.matchHour(h) {
				continue
			}
			hourStart := day.Add(time.Duration(h) * time.Hour)
			if !hourStart.Add(time.Hour).After(aw) {
				continue
			}
			for m := 0; m < 60; m++ {
				if !c.matchMinute(m) {
					continue
				}
				if w := hourStart.Add(time.Duration(m) * time.Minute); w.After(aw) {
					return w.Add(-off), true
				}
			}
		}
		return time.Time{}, false
	}
	// A change of offset near this day: map matching wall times to
	// instants and keep the earliest after after. A wall time w can only
	// name instants in [w-maxOff, w-minOff], which bounds the walk.
	minOff, maxOff := z.offsets[0], z.offsets[0]
	for _, o := range z.offsets {
		minOff, maxOff = min(minOff, o), max(maxOff, o)
	}
	lo := after.Add(time.Duration(minOff) * time.Second)
	var best time.Time
	found := false
	for h := 0; h < 24; h++ {
		hourStart := day.Add(time.Duration(h) * time.Hour)
		if !c.matchHour(h) || !hourStart.Add(time.Hour).After(lo) {
			continue
		}
		for m := 0; m < 60; m++ {
			if !c.matchMinute(m) {
				continue
			}
			w := hourStart.Add(time.Duration(m) * time.Minute)
			if !w.After(lo) {
				continue
			}
			if found && w.Add(-time.Duration(maxOff)*time.Second).After(best) {
				return best, true
			}
			p := z.instants(w, loc)
			if !c.hourRepeats {
				p.n = 1
			}
			for _, t := range p.at[:p.n] {
				if t.After(after) && (!found || t.Before(best)) {
					best, found = t, true
				}
			}
		}
	}
	return best, found
}
