package rocketmq_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferry-mq/ferry/internal/norace"
)

// TestRetryThenDeadLetter: a message the consumer keeps returning for
// later is redelivered through the group's retry topic with a growing
// reconsume count, never before its back-off, and after maxReconsumeTimes
// lands in the group's dead-letter topic (Ferry topic G.dlq) with where
// it came from.
func TestRetryThenDeadLetter(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
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
	var mu sync.Mutex
	var at []time.Time // when each delivery was consumed
	retryLater := func(ctx context.Context, _ []*primitive.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
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
	// Each retry waited its back-off (delay level 1: 1 s) in the
	// scheduler: it cannot come back before the previous delivery's
	// consumer returned it plus the back-off.
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Errorf("retry %d came %v after the delivery before it, before its 1 s back-off", i, gap)
		} else {
			t.Logf("retry %d came %v after the delivery before it", i, gap.Round(time.Millisecond))
		}
	}
}

// TestSendBackAsNormal: a consumer's fallback, a normal send to %RETRY%G
// carrying reconsumeTimes and maxReconsumeTimes, is stored in the retry
// topic with RECONSUME_TIME, or in the dead-letter topic once
// reconsumeTimes is past maxReconsumeTimes.
func TestSendBackAsNormal(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, nil)
	createTopic(t, s, "sg.retry", 1)
	c := dialRemoting(t, s.RocketMQAddr())
	send := func(body string, reconsume, maxReconsume int) {
		t.Helper()
		fields := validSendFields("%RETRY%sg")
		fields["reconsumeTimes"] = strconv.Itoa(reconsume)
		fields["maxReconsumeTimes"] = strconv.Itoa(maxReconsume)
		fields["properties"] = "KEYS\x01job-7\x02RETRY_TOPIC\x01jobs\x02"
		if resp := c.call(10, fields, []byte(body)); resp.Code != resSuccess {
			t.Fatalf("send %s: code %d %s", body, resp.Code, resp.Remark)
		}
	}
	send("again", 2, 3)
	send("dead", 4, 3)
	retried := consumeN(t, s, "sg.retry", 1)[0]
	if got, _ := header(retried, "RECONSUME_TIME"); string(retried.Value) != "again" || got != "2" {
		t.Errorf("retry topic holds %q with RECONSUME_TIME %q", retried.Value, got)
	}
	dead := consumeN(t, s, "sg.dlq", 1)[0]
	if got, _ := header(dead, "RECONSUME_TIME"); string(dead.Value) != "dead" || got != "4" || string(dead.Key) != "job-7" {
		t.Errorf("dead-letter topic holds %q key %q with RECONSUME_TIME %q", dead.Value, dead.Key, got)
	}
	if rt, _ := header(dead, "RETRY_TOPIC"); rt != "jobs" {
		t.Errorf("dead letter RETRY_TOPIC %q", rt)
	}
}
