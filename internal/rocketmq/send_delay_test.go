package rocketmq_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDelayedSends: a real RocketMQ producer's delay level, RocketMQ 5
// timer properties and __STARTDELIVERTIME each hold the message back until
// its time — never before (asserted), lateness logged — then it is an
// ordinary record of its queue without the DELAY property.
func TestDelayedSends(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-delay")
	ctx := context.Background()
	sent := time.Now()
	due := map[string]time.Time{}
	send := func(name string, delay time.Duration, set func(*primitive.Message)) {
		t.Helper()
		m := primitive.NewMessage("delayed", []byte(name))
		m.WithKeys([]string{name})
		set(m)
		res, err := p.SendSync(ctx, m)
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %s: %v %v", name, res, err)
		}
		due[name] = sent.Add(delay)
	}
	send("now", 0, func(*primitive.Message) {})
	send("level-1", time.Second, func(m *primitive.Message) { m.WithDelayTimeLevel(1) })
	send("delay-ms", 1500*time.Millisecond, func(m *primitive.Message) { m.WithProperty("TIMER_DELAY_MS", "1500") })
	send("delay-sec", 2*time.Second, func(m *primitive.Message) { m.WithProperty("TIMER_DELAY_SEC", "2") })
	at := strconv.FormatInt(sent.Add(700*time.Millisecond).UnixMilli(), 10)
	send("deliver-ms", 700*time.Millisecond, func(m *primitive.Message) { m.WithProperty("TIMER_DELIVER_MS", at) })
	send("start-deliver", 700*time.Millisecond, func(m *primitive.Message) { m.WithProperty("__STARTDELIVERTIME", at) })

	cl := kafkaClient(t, s, kgo.ConsumeTopics("delayed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	var order []string
	deadline := time.Now().Add(20 * time.Second)
	for len(order) < len(due) && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		seen := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			name := string(r.Value)
			order = append(order, name)
			if seen.Before(due[name]) {
				t.Errorf("%s fetched at %v, before its time %v", name, seen, due[name])
			}
			if _, ok := header(r, "DELAY"); ok {
				t.Errorf("%s delivered with its DELAY property", name)
			}
			if string(r.Key) != name {
				t.Errorf("%s delivered with key %q", name, r.Key)
			}
			t.Logf("%s: fetched %v after its time (fetch wait included)", name, seen.Sub(due[name]).Round(time.Millisecond))
		})
	}
	if len(order) != len(due) || order[0] != "now" || order[len(order)-1] != "delay-sec" {
		t.Fatalf("delivered %v", order)
	}
}

// TestDelayedSendCancel: a send with FERRY_CANCEL and KEYS cancels the
// delayed messages of that topic with those keys; others are delivered.
// Bad delay properties are refused with MESSAGE_ILLEGAL.
func TestDelayedSendCancel(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-cancel")
	ctx := context.Background()
	for _, k := range []string{"order-1", "order-2"} {
		m := primitive.NewMessage("cancels", []byte(k))
		m.WithKeys([]string{k})
		m.WithDelayTimeLevel(1)
		if _, err := p.SendSync(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	c := primitive.NewMessage("cancels", nil)
	c.WithKeys([]string{"order-1"})
	c.WithProperty("FERRY_CANCEL", "true")
	if _, err := p.SendSync(ctx, c); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // both were due by now
	recs := consumeN(t, s, "cancels", 1)
	cl := kafkaClient(t, s, kgo.ConsumeTopics("cancels"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	recs = append(recs, cl.PollFetches(pctx).Records()...)
	cancel()
	for _, r := range recs {
		if string(r.Value) != "order-2" {
			t.Fatalf("delivered %q", r.Value)
		}
	}

	for _, prop := range [][2]string{{"DELAY", "soon"}, {"TIMER_DELAY_MS", "-1"}, {"TIMER_DELIVER_MS", "x"}} {
		m := primitive.NewMessage("cancels", []byte("bad"))
		m.WithProperty(prop[0], prop[1])
		_, err := p.SendSync(ctx, m)
		if err == nil || !strings.Contains(err.Error(), prop[0]) {
			t.Errorf("%s=%s: err %v, want MESSAGE_ILLEGAL naming the property", prop[0], prop[1], err)
		}
		var be primitive.MQBrokerErr
		if errors.As(err, &be) && be.ResponseCode != 13 {
			t.Errorf("%s=%s: code %d, want 13 (MESSAGE_ILLEGAL)", prop[0], prop[1], be.ResponseCode)
		}
	}
}
