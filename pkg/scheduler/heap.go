package scheduler

import (
	"container/heap"
	"time"

	"github.com/tinybase/tinybase/pkg/schedule"
)

// entry is one active schedule the leader waits for.
type entry struct {
	id   string
	spec *schedule.Spec
	rev  int64
	next time.Time
	// index is the entry's position in the heap.
	index int
}

// timeline orders entries by their next instant; its top is the one
// timer's deadline.
type timeline []*entry

func (t timeline) Len() int           { return len(t) }
func (t timeline) Less(i, j int) bool { return t[i].next.Before(t[j].next) }
func (t timeline) Swap(i, j int) {
	t[i], t[j] = t[j], t[i]
	t[i].index, t[j].index = i, j
}

func (t *timeline) Push(x any) {
	e := x.(*entry)
	e.index = len(*t)
	*t = append(*t, e)
}

func (t *timeline) Pop() any {
	old := *t
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*t = old[:len(old)-1]
	e.index = -1
	return e
}

var _ heap.Interface = (*timeline)(nil)
