package schedule

import "container/heap"

// pending is one loaded message waiting in memory for its due time.
type pending struct {
	entry
	due int64 // when to try: deliverAt, or later after a failed delivery
}

// dueHeap is a min-heap of loaded messages by due time, then offset (so
// messages due together go out in the order they were scheduled).
type dueHeap []pending

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].offset < h[j].offset
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *dueHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

func (h *dueHeap) push(p pending) { heap.Push(h, p) }
func (h *dueHeap) pop() pending   { return heap.Pop(h).(pending) }
func (h dueHeap) peek() (pending, bool) {
	if len(h) == 0 {
		return pending{}, false
	}
	return h[0], true
}
