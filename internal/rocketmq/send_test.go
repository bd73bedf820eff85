package rocketmq_test

import (
	"context"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestSyncSendToKafkaConsumer: a real RocketMQ producer's sync send is
// stored as a record a franz-go consumer reads with the same contents —
// body as value, KEYS as key, tags and user properties as headers,
// born timestamp as timestamp — and the send result's queue offset and
// message id say where it is.
func TestSyncSendToKafkaConsumer(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-sync")
	msg := primitive.NewMessage("orders", []byte("order 42 created"))
	msg.WithTag("created")
	msg.WithKeys([]string{"order-42", "customer-7"})
	msg.WithProperty("region", "eu")
	res, err := p.SendSync(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != primitive.SendOK || res.QueueOffset != 0 || res.MessageQueue.QueueId != 0 || len(res.OffsetMsgID) != 32 {
		t.Fatalf("send result %+v", res)
	}
	recs := consumeN(t, s, "orders", 1)
	r := recs[0]
	if string(r.Value) != "order 42 created" || string(r.Key) != "order-42 customer-7" {
		t.Fatalf("record value %q key %q", r.Value, r.Key)
	}
	for k, want := range map[string]string{"TAGS": "created", "region": "eu", "UNIQ_KEY": res.MsgID} {
		if got, ok := header(r, k); !ok || got != want {
			t.Errorf("header %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if _, ok := header(r, "KEYS"); ok {
		t.Error("KEYS is the record key, not a header too")
	}
	if r.Offset != res.QueueOffset || r.Partition != int32(res.MessageQueue.QueueId) {
		t.Errorf("record at %d/%d, send result says %d/%d", r.Partition, r.Offset, res.MessageQueue.QueueId, res.QueueOffset)
	}
}
