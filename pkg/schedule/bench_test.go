package schedule

import (
	"testing"
	"time"
)

func benchNext(b *testing.B, s *Spec, from time.Time) {
	at := from
	b.ReportAllocs()
	for b.Loop() {
		n, ok := s.Next(at)
		if !ok {
			b.Fatal("no next")
		}
		at = n
	}
}

// BenchmarkNextCronSteady is the common case: a day without an offset
// change.
func BenchmarkNextCronSteady(b *testing.B) {
	benchNext(b, cronSpec(b, "*/5 * * * *", "Europe/Berlin"), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
}

// BenchmarkNextCronDSTNight walks minutes across a fall-back night.
func BenchmarkNextCronDSTNight(b *testing.B) {
	s := cronSpec(b, "* * * * *", "America/New_York")
	from := time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)
	at := from
	b.ReportAllocs()
	for b.Loop() {
		n, _ := s.Next(at)
		at = n
		if at.After(from.Add(4 * time.Hour)) {
			at = from
		}
	}
}

func BenchmarkNextCronDaily(b *testing.B) {
	benchNext(b, cronSpec(b, "30 2 * * *", "America/New_York"), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func BenchmarkPlanDueOnTime(b *testing.B) {
	s := cronSpec(b, "* * * * *", "UTC")
	next := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	now := next.Add(2 * time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.PlanDue(next, now, time.Hour)
	}
}
