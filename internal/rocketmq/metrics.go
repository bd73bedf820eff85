package rocketmq

import (
	"strconv"

	"github.com/ferry-mq/ferry/internal/metrics"
)

// serverMetrics are the front's instruments, made at start for every
// served request code so that a request costs a map lookup and an add.
type serverMetrics struct {
	requests    map[int16]metrics.Counter
	unsupported metrics.Counter
}

func newServerMetrics(sink metrics.Sink) *serverMetrics {
	sink = metrics.OrNop(sink)
	m := &serverMetrics{requests: map[int16]metrics.Counter{}, unsupported: sink.Counter(metrics.RocketMQRequests, "unsupported")}
	for code := range handlers {
		m.requests[code] = sink.Counter(metrics.RocketMQRequests, strconv.Itoa(int(code)))
	}
	return m
}

// countRequest counts one request of code.
func (m *serverMetrics) countRequest(code int16) {
	if c, ok := m.requests[code]; ok {
		c.Add(1)
		return
	}
	m.unsupported.Add(1)
}

// collect reports the gauges at scrape time.
func (s *Server) collect(emit metrics.Emit) {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	emit(metrics.RocketMQConnections, float64(n))
}
