package kafka

import (
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/metrics"
)

// maxAPIKey bounds the API keys instruments are kept for (kmsg knows
// fewer).
const maxAPIKey = 128

// serverMetrics are the Kafka front's instruments, made once per API at
// start so that a request costs array lookups and a few atomic adds.
type serverMetrics struct {
	sink     metrics.Sink
	requests [maxAPIKey]metrics.Counter
	duration [maxAPIKey]metrics.Histogram
	slowReqs [maxAPIKey]metrics.Counter
	produceWaiting,
	fetchWaiting metrics.Gauge

	errMu  sync.Mutex
	errors map[apiError]metrics.Counter // made on first sight: errors are rare
}

type apiError struct{ key, code int16 }

// noMetrics stands in for a Server built without NewServer's metrics (a
// listener added later that forgets to share them): it is made before the
// API files register, so every instrument in it is a no-op.
var noMetrics = newServerMetrics(metrics.Nop)

// instruments returns the server's metrics, never nil.
func (s *Server) instruments() *serverMetrics {
	if s.metrics == nil {
		return noMetrics
	}
	return s.metrics
}

func newServerMetrics(sink metrics.Sink) *serverMetrics {
	sink = metrics.OrNop(sink)
	m := &serverMetrics{
		sink:           sink,
		produceWaiting: sink.Gauge(metrics.ProducePurgatory),
		fetchWaiting:   sink.Gauge(metrics.FetchPurgatory),
		errors:         map[apiError]metrics.Counter{},
	}
	nop := metrics.Nop
	for key := range int16(maxAPIKey) {
		if _, ok := apis[key]; !ok {
			// Unregistered APIs are refused before timing.
			m.requests[key], m.duration[key], m.slowReqs[key] = nop.Counter(nil), nop.Histogram(nil), nop.Counter(nil)
			continue
		}
		name := kmsg.NameForKey(key)
		m.requests[key] = sink.Counter(metrics.KafkaRequests, name)
		m.duration[key] = sink.Histogram(metrics.KafkaRequestDuration, name)
		m.slowReqs[key] = sink.Counter(metrics.KafkaSlowRequests, name)
	}
	return m
}

// collect reports the server's gauges at scrape time.
func (s *Server) collect(emit metrics.Emit) {
	st := s.Stats()
	emit(metrics.KafkaConnections, float64(st.Connections))
	emit(metrics.KafkaRequestBytesInFlight, float64(st.RequestBytesInUse))
}

// requestDone records one answered request: its count, its latency and the
// error codes in its response, then logs it at DEBUG, or at WARN when it
// was slow. waited is the time the connection spent parked while the
// request was pending (its own or an earlier request's long poll or wait
// for a rebalance): it counts in the latency, as in Kafka's TotalTimeMs,
// but not as slowness.
func (c *conn) requestDone(h requestHeader, rep reply, took, waited time.Duration) {
	m := c.s.instruments()
	if h.key < 0 || int(h.key) >= maxAPIKey {
		return
	}
	m.requests[h.key].Add(1)
	m.duration[h.key].Observe(took.Seconds())
	if m.sink.Enabled() && rep != nil {
		forEachErrorCode(rep, func(code int16) { m.countError(h.key, code) })
	}
	worked := took - waited
	if slow := c.s.slowRequest; slow > 0 && worked >= slow {
		m.slowReqs[h.key].Add(1)
		c.log.Warn("slow request", "api", kmsg.NameForKey(h.key), "version", h.version, "client_id", h.clientID,
			"correlation_id", h.correlation, "duration", worked, "waited", waited)
		return
	}
	if c.log.Enabled(c.s.ctx, slog.LevelDebug) {
		c.log.Debug("request", "api", kmsg.NameForKey(h.key), "version", h.version, "client_id", h.clientID,
			"correlation_id", h.correlation, "duration", took, "waited", waited)
	}
}

func (m *serverMetrics) countError(key, code int16) {
	m.errMu.Lock()
	ctr, ok := m.errors[apiError{key, code}]
	if !ok {
		name := "UNKNOWN_SERVER_ERROR"
		if e := kerr.ErrorForCode(code); e != nil {
			if ke, ok := e.(*kerr.Error); ok {
				name = ke.Message
			}
		}
		ctr = m.sink.Counter(metrics.KafkaRequestErrors, kmsg.NameForKey(key), name)
		m.errors[apiError{key, code}] = ctr
	}
	m.errMu.Unlock()
	ctr.Add(1)
}

// forEachErrorCode calls fn with every non-zero error code of a response:
// the top-level one and those of its topics, partitions, groups. Produce
// and Fetch, the hot APIs, are walked directly; the rest by reflection.
func forEachErrorCode(rep reply, fn func(code int16)) {
	switch r := rep.(type) {
	case *fetchReply:
		if r.errorCode != 0 {
			fn(r.errorCode)
		}
		for i := range r.topics {
			for j := range r.topics[i].partitions {
				if code := r.topics[i].partitions[j].errorCode; code != 0 {
					fn(code)
				}
			}
		}
	case msgReply:
		if pr, ok := r.resp.(*kmsg.ProduceResponse); ok {
			for i := range pr.Topics {
				for j := range pr.Topics[i].Partitions {
					if code := pr.Topics[i].Partitions[j].ErrorCode; code != 0 {
						fn(code)
					}
				}
			}
			return
		}
		walkErrorCodes(reflect.ValueOf(r.resp), fn, 0)
	}
}

var int16Type = reflect.TypeFor[int16]()

// walkErrorCodes finds int16 fields named ErrorCode in v's structs and
// slices. depth guards against a cycle no kmsg type has.
func walkErrorCodes(v reflect.Value, fn func(int16), depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkErrorCodes(v.Elem(), fn, depth+1)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkErrorCodes(v.Index(i), fn, depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case f.Name == "ErrorCode" && f.Type == int16Type:
				if code := int16(v.Field(i).Int()); code != 0 {
					fn(code)
				}
			case f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Struct:
				if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8 {
					continue // bytes
				}
				walkErrorCodes(v.Field(i), fn, depth+1)
			}
		}
	}
}
