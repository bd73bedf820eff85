package rocketmq_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPushConsumeThroughput measures how fast one real push consumer
// drains messages franz-go wrote (4 queues, 256-byte bodies, 2 headers):
// long-polled pulls, conversion to MessageExt entries, the client's
// decoding and callback. A measurement, not a check: it runs only with
// FERRY_RMQ_BENCH=1 and logs messages per second.
func TestPushConsumeThroughput(t *testing.T) {
	if os.Getenv("FERRY_RMQ_BENCH") == "" {
		t.Skip("a measurement: set FERRY_RMQ_BENCH=1")
	}
	const n = 50_000
	s := startNode(t, nil)
	createTopic(t, s, "bench", 4)
	body := make([]byte, 256)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "bench", Partition: int32(i % 4), Value: body,
			Headers: []kgo.RecordHeader{{Key: "TAGS", Value: []byte("A")}, {Key: "n", Value: []byte(fmt.Sprint(i))}}})
	}
	produceKafka(t, s, recs...)
	for _, sel := range []consumer.MessageSelector{{}, {Type: consumer.TAG, Expression: "A || B"}, {Type: consumer.SQL92, Expression: "n >= 0"}} {
		rec := newReceived()
		start := time.Now()
		stop := newPushConsumer(t, s, fmt.Sprintf("bench-%s-%d", sel.Type, start.UnixNano()), "bench", sel, rec, nil,
			consumer.WithPullBatchSize(32), consumer.WithConsumeMessageBatchMaxSize(32))
		for rec.count() < n {
			select {
			case <-rec.more:
			case <-time.After(time.Minute):
				t.Fatalf("consumed %d of %d", rec.count(), n)
			}
		}
		d := time.Since(start)
		stop()
		t.Logf("selector %q %q: %d messages in %v: %.0f msg/s (consumer start included)", sel.Type, sel.Expression, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	}
}
