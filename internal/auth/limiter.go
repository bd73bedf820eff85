package auth

import (
	"sync"
	"time"
)

// FailureLimiter caps failed authentications per client address: after
// MaxFailures failures from one address within Window, every further
// attempt from it is refused without looking at its credentials until that
// window ends, correct password or not. It bounds password guessing to
// MaxFailures per Window per address; the price is that a guesser can lock
// out others behind the same address for a window at most.
type FailureLimiter struct {
	MaxFailures int
	Window      time.Duration
	// MaxAddrs bounds the addresses remembered; past it, windows that
	// ended are dropped, and if none has, the limiter forgets all (an
	// attacker with that many addresses gains one window of guesses).
	MaxAddrs int

	mu    sync.Mutex
	addrs map[string]*failureWindow
}

type failureWindow struct {
	start    time.Time
	failures int
}

// NewFailureLimiter returns the broker's limiter: 10 failures a minute per
// address.
func NewFailureLimiter() *FailureLimiter {
	return &FailureLimiter{MaxFailures: 10, Window: time.Minute, MaxAddrs: 100000}
}

// Allow reports whether addr may try to authenticate at now, and if not,
// how long until it may.
func (l *FailureLimiter) Allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.addrs[addr]
	if !ok || now.Sub(w.start) >= l.Window {
		return true, 0
	}
	if w.failures < l.MaxFailures {
		return true, 0
	}
	return false, w.start.Add(l.Window).Sub(now)
}

// Fail records a failed authentication from addr at now and reports
// whether it is the one that locks the address out.
func (l *FailureLimiter) Fail(addr string, now time.Time) (lockedOut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[string]*failureWindow{}
	}
	w, ok := l.addrs[addr]
	if !ok || now.Sub(w.start) >= l.Window {
		if !ok && len(l.addrs) >= l.MaxAddrs {
			l.pruneLocked(now)
		}
		w = &failureWindow{start: now}
		l.addrs[addr] = w
	}
	w.failures++
	return w.failures == l.MaxFailures
}

// pruneLocked drops ended windows, or all if none ended.
// REQUIRES: l.mu held.
func (l *FailureLimiter) pruneLocked(now time.Time) {
	for a, w := range l.addrs {
		if now.Sub(w.start) >= l.Window {
			delete(l.addrs, a)
		}
	}
	if len(l.addrs) >= l.MaxAddrs {
		clear(l.addrs)
	}
}
