package controller

import (
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Leases tracks when the active controller last heard each broker. The
// times are the controller's own (never written to the metadata log), so
// a controller that takes office gives every broker a full session.
// Callers pass the clock in; Leases is safe for concurrent use.
type Leases struct {
	timeout time.Duration

	mu    sync.Mutex
	heard map[int32]time.Time
	since time.Time // when this controller took office
}

// NewLeases returns leases that run out timeout after the last heartbeat.
func NewLeases(timeout time.Duration) *Leases {
	return &Leases{timeout: timeout, heard: map[int32]time.Time{}}
}

// Timeout is the session timeout.
func (l *Leases) Timeout() time.Duration { return l.timeout }

// TakeOffice forgets every last-heard time: this node has just become the
// active controller, and every broker gets a full session from now.
func (l *Leases) TakeOffice(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard = map[int32]time.Time{}
	l.since = now
}

// Heard records a heartbeat of node's registered incarnation.
func (l *Leases) Heard(node int32, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard[node] = now
}

// Live reports whether node's lease still runs at now.
func (l *Leases) Live(node int32, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.liveLocked(node, now)
}

// REQUIRES: l.mu held.
func (l *Leases) liveLocked(node int32, now time.Time) bool {
	last, ok := l.heard[node]
	if !ok || last.Before(l.since) {
		last = l.since
	}
	return now.Sub(last) < l.timeout
}

// Expired returns the unfenced brokers of img whose lease ran out at now.
func (l *Leases) Expired(img *meta.Image, now time.Time) []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int32
	for _, b := range img.LiveBrokers() {
		if !l.liveLocked(b.NodeID, now) {
			out = append(out, b.NodeID)
		}
	}
	return out
}
