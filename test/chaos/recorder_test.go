package chaos

import (
	"sync"
	"sync/atomic"
)

// recorder collects a History from the workload's goroutines.
type recorder struct {
	mu sync.Mutex
	h  History

	produceErrs atomic.Int64 // produces that failed (unacknowledged)
	badValues   atomic.Int64 // consumed values that are no chaos value
}

func (r *recorder) attempt(v Value) {
	r.mu.Lock()
	r.h.Attempts = append(r.h.Attempts, v)
	r.mu.Unlock()
}

func (r *recorder) ack(a Ack) {
	r.mu.Lock()
	r.h.Acks = append(r.h.Acks, a)
	r.mu.Unlock()
}

func (r *recorder) reads(rs []Read) {
	r.mu.Lock()
	r.h.Reads = append(r.h.Reads, rs...)
	r.mu.Unlock()
}

func (r *recorder) watermarks(ws []Watermark) {
	r.mu.Lock()
	r.h.Watermarks = append(r.h.Watermarks, ws...)
	r.mu.Unlock()
}

// history returns what was recorded; call it once the workload stopped.
func (r *recorder) history() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h
}
