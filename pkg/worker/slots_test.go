package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSlotsDirectBeforeFetchers(t *testing.T) {
	s := newSlots(2)
	ctx := context.Background()
	// Two queue loops wait in fetches; a direct call still finds a slot.
	if !s.startFetch(ctx) || !s.startFetch(ctx) {
		t.Fatal("fetches refused with free slots")
	}
	if !s.tryTake() || !s.tryTake() {
		t.Fatal("direct calls refused while only fetches were waiting")
	}
	if s.tryTake() {
		t.Fatal("a third call ran on two slots")
	}
	// A fetch that brings a call now waits for a slot, and says so.
	waited := make(chan struct{})
	got := make(chan bool)
	go func() { got <- s.takeFetched(ctx, func() { close(waited) }) }()
	<-waited
	select {
	case <-got:
		t.Fatal("fetched call ran with every slot taken")
	case <-time.After(20 * time.Millisecond):
	}
	s.release()
	if !<-got {
		t.Fatal("fetched call did not get the freed slot")
	}
	s.endFetch()
	// No new fetch starts while every slot runs a call.
	fctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if s.startFetch(fctx) {
		t.Fatal("fetch started with every slot running")
	}
	s.release()
	if !s.startFetch(ctx) {
		t.Fatal("fetch refused after a slot freed")
	}
}

func TestSlotsNeverOverrun(t *testing.T) {
	const size = 3
	s := newSlots(size)
	var running, peak atomic.Int64
	run := func() {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		s.release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range size { // queue loops
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.startFetch(ctx) {
				if s.takeFetched(ctx, nil) {
					run()
				}
			}
		}()
	}
	for range 4 { // direct calls arriving
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if s.tryTake() {
					run()
				}
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > size || p == 0 {
		t.Fatalf("peak of %d calls at once on %d slots", p, size)
	}
}
