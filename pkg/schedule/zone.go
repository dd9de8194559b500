package schedule

import "time"

// Wall-clock times are handled as UTC times whose fields are the local
// fields ("naive" times): a wall time w and an offset o (seconds east of
// UTC) name the instant w - o.

// margin is wider than any UTC offset (tzdata offsets stay within ±15h), so
// [day-margin, day+24h+margin] in naive terms covers every instant of a
// local day.
const margin = 26 * time.Hour

// transition is a change of UTC offset at instant at.
type transition struct {
	at            time.Time
	before, after int // offsets in seconds east of UTC
}

// dayZone describes the offsets in force around one local day.
type dayZone struct {
	// offset is the only offset in force, when steady is set.
	offset int
	steady bool
	// transitions lists the offset changes near the day otherwise.
	transitions []transition
	offsets     []int
}

// zoneAround returns the offsets in force around the local day starting at
// the naive midnight day.
func zoneAround(day time.Time, loc *time.Location) dayZone {
	from := time.Unix(day.Add(-margin).Unix(), 0).In(loc)
	until := day.Add(24*time.Hour + margin)
	_, off := from.Zone()
	_, end := from.ZoneBounds()
	if end.IsZero() || end.After(until) {
		return dayZone{offset: off, steady: true}
	}
	z := dayZone{offsets: []int{off}}
	prev := off
	for t := end; !t.IsZero() && !t.After(until); {
		lt := t.In(loc)
		_, o := lt.Zone()
		if o != prev {
			z.transitions = append(z.transitions, transition{at: t, before: prev, after: o})
			if !containsInt(z.offsets, o) {
				z.offsets = append(z.offsets, o)
			}
			prev = o
		}
		_, next := lt.ZoneBounds()
		if !next.After(t) {
			break
		}
		t = next
	}
	if len(z.transitions) == 0 {
		return dayZone{offset: off, steady: true}
	}
	return z
}

// passes holds the instants at which a local clock shows one wall time,
// earliest first.
type passes struct {
	at [3]time.Time
	n  int
	// gap is set when the wall time was skipped by a forward change; at[0]
	// is then the instant of the change.
	gap bool
}

// instants returns the instants at which the local clock shows the naive
// wall time w: one normally, two (or more) in a repeated (fall-back)
// period. For a wall time skipped by a forward change it returns the
// instant of that change, the first instant after the jump.
func (z *dayZone) instants(w time.Time, loc *time.Location) passes {
	var p passes
	if z.steady {
		p.at[0], p.n = w.Add(-time.Duration(z.offset)*time.Second), 1
		return p
	}
	for _, o := range z.offsets {
		t := w.Add(-time.Duration(o) * time.Second)
		if _, got := t.In(loc).Zone(); got == o && p.n < len(p.at) {
			// Insert in order; offsets are few.
			i := p.n
			for i > 0 && p.at[i-1].After(t) {
				p.at[i] = p.at[i-1]
				i--
			}
			p.at[i] = t
			p.n++
		}
	}
	if p.n > 0 {
		return p
	}
	for _, tr := range z.transitions {
		if tr.after <= tr.before {
			continue
		}
		start := tr.at.Add(time.Duration(tr.before) * time.Second) // naive wall where the gap starts
		end := tr.at.Add(time.Duration(tr.after) * time.Second)
		if !w.Before(start) && w.Before(end) {
			p.at[0], p.n, p.gap = tr.at, 1, true
			return p
		}
	}
	// Not reachable with consistent zone data; take the library's choice
	// rather than drop the time.
	p.at[0] = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	p.n = 1
	return p
}

// resolveWall maps a naive wall time in loc to the one instant a schedule
// fires for it: the first pass of a repeated time, the first instant after
// the jump for a skipped one.
func resolveWall(w time.Time, loc *time.Location) time.Time {
	day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	z := zoneAround(day, loc)
	return z.instants(w, loc).at[0]
}

// naive returns the local wall time of t in loc as a naive time.
func naive(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
