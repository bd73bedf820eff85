// Package reqbudget bounds the bytes of requests read and not yet handled,
// all connections of a listener together (Kafka's
// queued.max.request.bytes): the Kafka and RocketMQ fronts take each
// request's bytes from one as they arrive.
package reqbudget

import (
	"context"
	"sync"
)

// Budget bounds the bytes of requests read but not yet handled, all
// connections together (Kafka's queued.max.request.bytes). A request's
// buffer grows as its bytes arrive and each growth takes its bytes from
// the budget first, waiting while there is no room: back-pressure on the
// readers instead of memory.
//
// Waiting in the middle of a request could deadlock: two half-read
// requests, each holding half the budget, would wait for each other
// forever. So one request that already holds bytes may take the overdraft
// and finish past the limit; it returns the overdraft when it is released.
// Requests are never larger than the limit (larger ones are refused before
// they are read), so request memory stays under twice the limit.
type Budget struct {
	limit int64

	mu        sync.Mutex
	used      int64
	overdrawn bool          // a Request holds the overdraft
	freed     chan struct{} // closed and replaced when bytes are released
}

func New(limit int64) *Budget {
	return &Budget{limit: limit, freed: make(chan struct{})}
}

// Request is one request's share of the budget. Its fields are
// guarded by the budget's mutex, so release may run on either of a
// connection's goroutines, and more than once.
type Request struct {
	b         *Budget
	n         int64
	overdraft bool
}

// NewRequest starts a request's share, empty.
func (b *Budget) NewRequest() *Request { return &Request{b: b} }

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// inUse returns the bytes taken and not yet released.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// grow adds n bytes to r, waiting until they fit or ctx ends. It reports
// whether it had to wait, so the caller does not count that time against
// the client.
func (r *Request) Grow(ctx context.Context, n int64) (waited bool, err error) {
	b := r.b
	for {
		b.mu.Lock()
		fits := r.overdraft || b.used+n <= b.limit
		if !fits && r.n > 0 && !b.overdrawn {
			// Half-read and stuck: finish over the limit rather than
			// wait for requests that may be waiting for this one.
			b.overdrawn, r.overdraft, fits = true, true, true
		}
		if fits {
			b.used += n
			r.n += n
			b.mu.Unlock()
			return waited, nil
		}
		freed := b.freed
		b.mu.Unlock()
		waited = true
		select {
		case <-freed:
		case <-ctx.Done():
			return waited, ctx.Err()
		}
	}
}

// release returns r's bytes (and the overdraft) to the budget. Releasing
// again is a no-op.
func (r *Request) Release() {
	if r == nil {
		return
	}
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.n == 0 && !r.overdraft {
		return
	}
	b.used -= r.n
	r.n = 0
	if r.overdraft {
		b.overdrawn, r.overdraft = false, false
	}
	close(b.freed)
	b.freed = make(chan struct{})
}
