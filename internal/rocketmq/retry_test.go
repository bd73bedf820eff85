package rocketmq_test

import (
	"context"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestRetryThenDeadLetter: a message the consumer keeps returning for
// later is redelivered through the group's retry topic with a growing
// reconsume count, and after maxReconsumeTimes lands in the group's
// dead-letter topic (Ferry topic G.dlq) with where it came from.
func TestRetryThenDeadLetter(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "work", 1)
	p := newProducer(t, s, "pw")
	msg := primitive.NewMessage("work", []byte("poison"))
	msg.WithKeys([]string{"job-1"})
	sent, err := p.SendSync(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newReceived()
	retryLater := func(ctx context.Context, _ []*primitive.MessageExt) consumer.ConsumeResult {
		if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
			cc.DelayLevelWhenNextConsume = 1 // 1 s back-off
		}
		return consumer.ConsumeRetryLater
	}
	newPushConsumer(t, s, "rg", "work", consumer.MessageSelector{}, rec, retryLater, consumer.WithMaxReconsumeTimes(2))
	msgs := rec.waitFor(t, "three deliveries", func(m []*primitive.MessageExt) bool { return len(m) >= 3 })
	for i, m := range msgs[:3] {
		if string(m.Body) != "poison" || m.ReconsumeTimes != int32(i) || m.Topic != "work" || m.GetKeys() != "job-1" || m.MsgId != sent.MsgID {
			t.Errorf("delivery %d: %v", i, m)
		}
	}
	dead := consumeN(t, s, "rg.dlq", 1)[0]
	if string(dead.Value) != "poison" || string(dead.Key) != "job-1" {
		t.Fatalf("dead letter %q key %q", dead.Value, dead.Key)
	}
	for k, want := range map[string]string{"RECONSUME_TIME": "3", "RETRY_TOPIC": "work", "ORIGIN_MESSAGE_ID": sent.MsgID} {
		if got, _ := header(dead, k); got != want {
			t.Errorf("dead letter header %s = %q, want %q", k, got, want)
		}
	}
	if n := len(rec.snapshot()); n != 3 {
		t.Errorf("%d deliveries, want 3 (the first and two retries)", n)
	}
}
