package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/norace"
)

// TestDLQRedriveEndToEndWithRocketMQConsumer: a real push consumer fails a
// message until it is a dead letter; `ferry message find` shows it with its
// retry and dead letter; `ferry dlq redrive` sends it back to its topic,
// where the same consumer group gets it again and takes it.
// clientRaces: see internal/norace; the consumer races inside the library.
const clientRaces = "rocketmq-client-go's consumers race inside the library"

func TestDLQRedriveEndToEndWithRocketMQConsumer(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	srv := startFerryRocketMQ(t)
	p := rocketProducer(t, srv, "pg-shop")
	m := primitive.NewMessage("shop", []byte("order nine"))
	m.WithKeys([]string{"order-9"})
	if _, err := p.SendSync(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var deliveries []string // "attempt:redriven"
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.RocketMQAddr()})),
		consumer.WithGroupName("billing"),
		consumer.WithInstance(fmt.Sprintf("billing-%d", time.Now().UnixNano())),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe("shop", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, msg := range msgs {
			redriven := msg.GetProperty("ferry-redriven-from") != ""
			deliveries = append(deliveries, fmt.Sprintf("%d:%v", msg.ReconsumeTimes, redriven))
			if !redriven {
				if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
					cc.DelayLevelWhenNextConsume = 1 // retry after 1 s
				}
				return consumer.ConsumeRetryLater, nil
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })

	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(90 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(context.Background(), "billing.dlq")
		if err == nil {
			if o, ok := ends.Lookup("billing.dlq", 0); ok && o.Err == nil && o.Offset >= 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("no dead letter after the consumer failed the message; deliveries %v", deliveries)
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := mustRun(t, runMessage, "", "find", "--key", "order-9", "--topic", "shop", "--rocketmq-addr", srv.RocketMQAddr())
	for _, want := range []string{"shop ", "billing.retry", "retry ", "billing.dlq", "dead-letter"} {
		if !strings.Contains(out, want) {
			t.Fatalf("find --key order-9 lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, runDLQ, "", "show", "billing", "--brokers", srv.Addr())
	if !strings.Contains(out, "order-9") || !strings.Contains(out, "shop") {
		t.Fatalf("dlq show:\n%s", out)
	}
	out = mustRun(t, runDLQ, "", "redrive", "billing", "--brokers", srv.Addr())
	if !strings.Contains(out, "redrove 1 dead letters from billing.dlq: 1 to shop") {
		t.Fatalf("redrive:\n%s", out)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		mu.Lock()
		got := strings.Join(deliveries, " ")
		mu.Unlock()
		if strings.HasSuffix(got, ":true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redriven message never reached the consumer; deliveries %s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if deliveries[0] != "0:false" || deliveries[len(deliveries)-1] != "0:true" {
		t.Fatalf("deliveries %v: want a first failed one and, last, the redriven one with a fresh retry count", deliveries)
	}
}
