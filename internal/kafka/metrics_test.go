package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/metrics"
	"github.com/ferry-mq/ferry/internal/metrics/prom"
)

// metricsConn is a connection with just what requestDone uses.
func metricsConn(sink metrics.Sink) *conn {
	s := &Server{metrics: newServerMetrics(sink), ctx: context.Background(), slowRequest: time.Second}
	return &conn{s: s, log: slog.New(slog.DiscardHandler)}
}

func sampleProduceReply() reply {
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = "t"
	rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, 4)
	resp.Topics = append(resp.Topics, rt)
	return msgReply{resp}
}

// TestRequestMetricsDoNotAllocate: counting an answered request (count,
// latency, error scan, the log level check) allocates nothing, with
// Prometheus metrics on or off, so the produce and fetch paths pay no
// garbage for them.
func TestRequestMetricsDoNotAllocate(t *testing.T) {
	rep := sampleProduceReply()
	fetch := &fetchReply{topics: []fetchTopic{{name: "t", partitions: make([]fetchPartition, 4)}}}
	for name, sink := range map[string]metrics.Sink{"prometheus": prom.New(), "off": metrics.Nop} {
		c := metricsConn(sink)
		h := requestHeader{key: 0, version: 9, clientID: "c"}
		if n := testing.AllocsPerRun(1000, func() { c.requestDone(h, rep, time.Millisecond, 0) }); n != 0 {
			t.Errorf("%s: produce: %v allocations per request", name, n)
		}
		h.key = 1
		if n := testing.AllocsPerRun(1000, func() { c.requestDone(h, fetch, time.Millisecond, 0) }); n != 0 {
			t.Errorf("%s: fetch: %v allocations per request", name, n)
		}
	}
}

// TestErrorCodesCounted: error codes anywhere in a response (top level,
// per topic, per partition) count under the response's API, by name.
func TestErrorCodesCounted(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	mt := kmsg.NewMetadataResponseTopic()
	mt.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
	mp := kmsg.NewMetadataResponseTopicPartition()
	mp.ErrorCode = 9 // REPLICA_NOT_AVAILABLE
	mt.Partitions = append(mt.Partitions, mp, kmsg.NewMetadataResponseTopicPartition())
	resp.Topics = append(resp.Topics, mt, kmsg.NewMetadataResponseTopic())
	var got []int16
	forEachErrorCode(msgReply{resp}, func(code int16) { got = append(got, code) })
	if len(got) != 2 || got[0] != 3 || got[1] != 9 {
		t.Fatalf("error codes found %v, want [3 9]", got)
	}
}

func BenchmarkRequestDone(b *testing.B) {
	rep := sampleProduceReply()
	for _, tc := range []struct {
		name string
		sink metrics.Sink
	}{{"prometheus", prom.New()}, {"off", metrics.Nop}} {
		b.Run(tc.name, func(b *testing.B) {
			c := metricsConn(tc.sink)
			h := requestHeader{key: 0, version: 9, clientID: "c"}
			b.ReportAllocs()
			for b.Loop() {
				c.requestDone(h, rep, time.Millisecond, 0)
			}
		})
	}
}
