package api

import (
	"context"
	"sync"
	"time"

	"github.com/tinybase/tinybase/pkg/calls"
)

// recordGather is how long call outcomes gather before they are committed
// together. Callers are answered before the commit and reads of a call
// wait for it, so the delay shows only to a client that reads the call
// right after its answer; every commit saved is CPU and an fsync that the
// next calls no longer compete with.
const recordGather = 20 * time.Millisecond

// maxRecordBatch caps the outcomes of one commit.
const maxRecordBatch = 256

// recorder commits call outcomes in batches, one transaction each.
type recorder struct {
	calls *calls.Calls
	jobs  chan *recordJob
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type recordJob struct {
	item calls.Finishing
	done chan calls.Finished
}

func newRecorder(c *calls.Calls) *recorder {
	r := &recorder{calls: c, jobs: make(chan *recordJob), quit: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// commit records one outcome with the next batch and returns once that
// batch is committed. After stop it commits on its own.
func (r *recorder) commit(id string, o calls.Outcome) calls.Finished {
	j := &recordJob{item: calls.Finishing{ID: id, Outcome: o}, done: make(chan calls.Finished, 1)}
	select {
	case r.jobs <- j:
		return <-j.done
	case <-r.done:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return r.calls.FinishAll(ctx, []calls.Finishing{j.item})[0]
	}
}

// stop commits what is gathered and ends the recorder.
func (r *recorder) stop() {
	r.once.Do(func() { close(r.quit) })
	<-r.done
}

func (r *recorder) run() {
	defer close(r.done)
	timer := time.NewTimer(recordGather)
	timer.Stop()
	for {
		var batch []*recordJob
		select {
		case j := <-r.jobs:
			batch = append(batch, j)
		case <-r.quit:
			return
		}
		timer.Reset(recordGather)
	gather:
		for len(batch) < maxRecordBatch {
			select {
			case j := <-r.jobs:
				batch = append(batch, j)
			case <-timer.C:
				break gather
			case <-r.quit:
				break gather
			}
		}
		timer.Stop()
		items := make([]calls.Finishing, len(batch))
		for i, j := range batch {
			items[i] = j.item
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := r.calls.FinishAll(ctx, items)
		cancel()
		for i, j := range batch {
			j.done <- res[i]
		}
	}
}
