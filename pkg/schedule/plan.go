package schedule

import "time"

// Plan says what a schedule does once its stored next instant has come.
type Plan struct {
	// Run is set when the schedule runs now, for instant Fire.
	Run  bool
	Fire time.Time
	// Missed is set when the due instants all lie further back than the
	// grace: nothing runs and the skip is recorded. MissedAt is the first
	// instant that was missed.
	Missed   bool
	MissedAt time.Time
	// Next is the instant to wait for afterwards, when HasNext is set.
	Next    time.Time
	HasNext bool
}

// PlanDue decides what a schedule whose stored next instant next (not after
// now) does at now. All instants that came due are coalesced into one run
// for the latest of them, if that one is no more than grace old;
// otherwise they are missed. Never more than one run: after downtime a
// schedule does not catch up with a burst.
func (s *Spec) PlanDue(next, now time.Time, grace time.Duration) Plan {
	next, now = next.UTC(), now.UTC()
	last := s.latest(next, now)
	var p Plan
	if now.Sub(last) <= grace {
		p.Run, p.Fire = true, last
	} else {
		p.Missed, p.MissedAt = true, next
	}
	p.Next, p.HasNext = s.Next(last)
	return p
}

// latest returns the latest instant in [from, now] of the chain of
// instants that starts at from.
func (s *Spec) latest(from, now time.Time) time.Time {
	if !from.Before(now) {
		return from
	}
	switch s.Method {
	case MethodInterval:
		k := now.Sub(from) / s.Every
		return from.Add(k * s.Every)
	case MethodCron:
		n, ok := s.Next(from)
		if !ok || n.After(now) {
			return from
		}
		// Find a recent window that holds an instant, widening it until it
		// does, then walk forward: the walk stays short however long the
		// schedule was idle.
		for w := time.Minute; ; w *= 2 {
			lo := now.Add(-w)
			if !lo.After(from) {
				lo = from
			}
			t, ok := s.Next(lo)
			if ok && !t.After(now) {
				for {
					n, ok := s.Next(t)
					if !ok || n.After(now) {
						return t
					}
					t = n
				}
			}
			if lo.Equal(from) {
				return from
			}
		}
	}
	return from
}
