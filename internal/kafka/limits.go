package kafka

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// connLimits counts open connections, broker-wide and per client address
// (max.connections, max.connections.per.ip).
type connLimits struct {
	max, maxPerIP int // maxPerIP 0: no per-address limit

	mu    sync.Mutex
	total int
	perIP map[string]int
}

func newConnLimits(max, maxPerIP int) *connLimits {
	return &connLimits{max: max, maxPerIP: maxPerIP, perIP: map[string]int{}}
}

// limitKind names a connection limit.
type limitKind int

const (
	limitBrokerWide limitKind = iota
	limitPerIP
	numLimitKinds
)

// admit counts a new connection from addr, or says which limit it is over
// and why. Every admitted connection must be left exactly once.
func (l *connLimits) admit(addr net.Addr) (limitKind, error) {
	ip := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return limitBrokerWide, fmt.Errorf("%d connections are open, the broker-wide limit (--max-connections)", l.total)
	}
	if l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP {
		return limitPerIP, fmt.Errorf("%d connections from %s are open, the per-address limit (--max-connections-per-ip)", l.perIP[ip], ip)
	}
	l.total++
	l.perIP[ip]++
	return 0, nil
}

func (l *connLimits) leave(addr net.Addr) {
	ip := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// open returns the number of connections admitted and not yet left.
func (l *connLimits) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func hostOf(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// logThrottle lets one log line through per interval and counts the ones
// it held back, so a flood of refused connections cannot flood the log.
type logThrottle struct {
	every time.Duration

	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether to log now, and how many lines were held back
// since the last one logged.
func (t *logThrottle) allow(now time.Time) (ok bool, suppressed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.suppressed++
		return false, 0
	}
	t.next = now.Add(t.every)
	suppressed, t.suppressed = t.suppressed, 0
	return true, suppressed
}
