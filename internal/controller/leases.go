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
	heard map[int32]heardAt
	since time.Time // when this controller took office
}

// heardAt is the last heartbeat of a node: which process, and when.
type heardAt struct {
	incarnation string
	at          time.Time
}

// NewLeases returns leases that run out timeout after the last heartbeat.
func NewLeases(timeout time.Duration) *Leases {
	return &Leases{timeout: timeout, heard: map[int32]heardAt{}}
}

// Timeout is the session timeout.
func (l *Leases) Timeout() time.Duration { return l.timeout }

// TakeOffice forgets every last-heard time: this node has just become the
// active controller, and every broker gets a full session from now.
func (l *Leases) TakeOffice(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard = map[int32]heardAt{}
	l.since = now
}

// Heard records a heartbeat of one incarnation of node. It is called only
// for heartbeats the controller accepts: from then on an older incarnation
// of node counts as gone.
func (l *Leases) Heard(node int32, incarnation string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard[node] = heardAt{incarnation, now}
}

// Live reports whether the lease of incarnation of node still runs at now.
// A node not heard since this controller took office has a session from
// then; an incarnation replaced by a newer one has none.
func (l *Leases) Live(node int32, incarnation string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.liveLocked(node, incarnation, now)
}

// REQUIRES: l.mu held.
func (l *Leases) liveLocked(node int32, incarnation string, now time.Time) bool {
	last := l.since
	if h, ok := l.heard[node]; ok {
		if h.incarnation != incarnation {
			return false
		}
		if h.at.After(last) {
			last = h.at
		}
	}
	return now.Sub(last) < l.timeout
}

// Expired returns the unfenced brokers of img whose lease ran out at now.
func (l *Leases) Expired(img *meta.Image, now time.Time) []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int32
	for _, b := range img.LiveBrokers() {
		if !l.liveLocked(b.NodeID, b.Incarnation, now) {
			out = append(out, b.NodeID)
		}
	}
	return out
}
