package worker

import (
	"context"
	"sync"
)

// slots bounds how many calls a worker runs at once, whether they came
// from the work queue or straight from the api. Queue loops wait for a
// free slot before they fetch, but do not hold one while fetching, so an
// idle worker can always take a direct call; a queued call that arrives
// while direct calls took every slot waits here for one.
type slots struct {
	mu       sync.Mutex
	size     int
	running  int
	fetching int
	freed    chan struct{} // closed and replaced whenever a slot frees
}

func newSlots(size int) *slots {
	return &slots{size: max(size, 1), freed: make(chan struct{})}
}

// tryTake takes a slot if one is free now.
func (s *slots) tryTake() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running >= s.size {
		return false
	}
	s.running++
	return true
}

// startFetch waits until a queue fetch could be served by a free slot and
// counts the fetch; it reports false when ctx ends first.
func (s *slots) startFetch(ctx context.Context) bool {
	for ctx.Err() == nil {
		s.mu.Lock()
		if s.running+s.fetching < s.size {
			s.fetching++
			s.mu.Unlock()
			return true
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
		}
	}
	return false
}

// endFetch ends a fetch that returned nothing.
func (s *slots) endFetch() {
	s.mu.Lock()
	s.fetching--
	s.mu.Unlock()
	s.signal()
}

// takeFetched turns a fetch that returned a call into a running slot,
// waiting for one if direct calls took them meanwhile (onWait is called
// when it starts waiting); it reports false when ctx ends first.
func (s *slots) takeFetched(ctx context.Context, onWait func()) bool {
	s.mu.Lock()
	s.fetching--
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.running < s.size {
			s.running++
			s.mu.Unlock()
			return true
		}
		freed := s.freed
		s.mu.Unlock()
		if onWait != nil {
			onWait()
			onWait = nil
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// inUse returns how many slots run a call now.
func (s *slots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// release frees a running slot.
func (s *slots) release() {
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.signal()
}

func (s *slots) signal() {
	s.mu.Lock()
	close(s.freed)
	s.freed = make(chan struct{})
	s.mu.Unlock()
}
