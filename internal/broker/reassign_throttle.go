package broker

import (
	"slices"
	"sync"
	"time"
)

// replicationThrottle is --replication-throttle: a token bucket of bytes
// per second shared by every partition this node leads, charged only for
// what it serves to replicas a reassignment adds. Followers that were
// replicas before the move are never throttled: they hold the ISR, and
// acks=all waits on them. The bucket holds at most one second of tokens;
// a fetch may overdraw it by up to one batch (a follower must always get
// at least one batch to make progress), and the debt delays the next one.
type replicationThrottle struct {
	rate float64 // bytes per second; 0 is off

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newReplicationThrottle(rate int64) *replicationThrottle {
	return &replicationThrottle{rate: float64(rate), tokens: float64(rate)}
}

// budget returns the bytes that may be served now, refilling the bucket
// up to now; 0 means none.
func (t *replicationThrottle) budget(now time.Time) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() {
		t.tokens = min(t.rate, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	}
	t.last = now
	return int64(max(t.tokens, 0))
}

// charge takes n bytes served from the bucket.
func (t *replicationThrottle) charge(n int64) {
	t.mu.Lock()
	t.tokens -= float64(n)
	t.mu.Unlock()
}

// ReplicaFetchBudget returns how many bytes this leader may serve now to
// follower node of p: want itself, unless node is a replica a running
// reassignment adds and --replication-throttle is set; then at most what
// the throttle has left (0: nothing this time). adding says node is such
// a replica: the caller reports what it serves with ReplicaFetchServed.
func (b *Broker) ReplicaFetchBudget(p *Partition, node int32, want int64) (limit int64, adding bool) {
	if !p.isAdding(node) {
		return want, false
	}
	if b.throttle == nil {
		return want, true
	}
	return min(want, b.throttle.budget(time.Now())), true
}

// ReplicaFetchServed counts (and charges to the throttle) n bytes served
// to a replica a reassignment adds.
func (b *Broker) ReplicaFetchServed(n int64) {
	if n <= 0 {
		return
	}
	b.metrics.reassigned.Add(float64(n))
	if b.throttle != nil {
		b.throttle.charge(n)
	}
}

// isAdding reports whether node is a replica of p that the running
// reassignment adds.
func (p *Partition) isAdding(node int32) bool {
	if !p.repl.moving.Load() {
		return false // the common case: no lock on the fetch path
	}
	p.repl.mu.Lock()
	defer p.repl.mu.Unlock()
	return slices.Contains(p.repl.adding, node)
}

// reassignmentLag is, on the leader of a partition being moved, how many
// offsets the slowest adding replica lacks (all of them before its first
// fetch); moving is false elsewhere.
func (p *Partition) reassignmentLag() (lag int64, moving bool) {
	rs := &p.repl
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.leading.Load() || len(rs.adding) == 0 {
		return 0, false
	}
	end := p.log.EndOffset()
	for _, r := range rs.adding {
		have := int64(0)
		if f, ok := rs.followers[r]; ok && f.logEnd > 0 {
			have = f.logEnd
		}
		lag = max(lag, end-have)
	}
	return lag, true
}
