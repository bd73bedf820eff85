package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// startFerryRocketMQ starts an in-process broker with the RocketMQ front.
func startFerryRocketMQ(t *testing.T) *server.Server {
	t.Helper()
	rlog.SetLogLevel("error")
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.RocketMQ.Addr = "127.0.0.1:0"
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// rocketProducer is a real RocketMQ producer of the node.
func rocketProducer(t *testing.T, srv *server.Server, group string) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{srv.RocketMQAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(fmt.Sprintf("cli-%s-%d", group, time.Now().UnixNano())),
		producer.WithSendMsgTimeout(10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func TestMessageFindThroughRetryDeadLetterAndRedrive(t *testing.T) {
	srv := startFerryRocketMQ(t)
	p := rocketProducer(t, srv, "pg-shop")
	m := primitive.NewMessage("shop", []byte("order one"))
	m.WithKeys([]string{"order-1"})
	sent, err := p.SendSync(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	// Its retry and dead letter, as the consumer side writes them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"billing.retry", "billing.dlq"} {
		r := &kgo.Record{Topic: topic, Key: []byte("order-1"), Value: []byte("order one"), Headers: []kgo.RecordHeader{
			{Key: "RETRY_TOPIC", Value: []byte("shop")}, {Key: "UNIQ_KEY", Value: []byte(sent.MsgID)}, {Key: "RECONSUME_TIME", Value: []byte("16")}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	find := func(args ...string) string {
		t.Helper()
		return mustRun(t, runMessage, "", append([]string{"find", "--rocketmq-addr", srv.RocketMQAddr()}, args...)...)
	}
	out := find("--key", "order-1", "--topic", "shop")
	for _, want := range []string{
		"shop           0          0       ", "message",
		"billing.retry  0          0", "retry        shop",
		"billing.dlq    0          0", "dead-letter  shop", sent.MsgID,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("find --key order-1 --topic shop lacks %q:\n%s", want, out)
		}
	}
	if out := find("--key", sent.MsgID, "--format", "json"); strings.Count(out, "\n") != 3 || !strings.Contains(out, `"kind":"dead-letter"`) {
		t.Fatalf("find by message id:\n%s", out)
	}
	if out := find("--key", "order-404"); !strings.Contains(out, `no message with key "order-404"`) {
		t.Fatalf("find of nothing:\n%s", out)
	}

	// Redrive sends the dead letter back to shop: found there twice now.
	out = mustRun(t, runDLQ, "", "redrive", "billing", "--brokers", srv.Addr())
	if !strings.Contains(out, "redrove 1 dead letters from billing.dlq: 1 to shop") {
		t.Fatalf("redrive:\n%s", out)
	}
	out = find("--key", "order-1", "--topic", "shop")
	if !strings.Contains(out, "shop           0          1") {
		t.Fatalf("the redriven message is not found in shop:\n%s", out)
	}
	if out := mustRun(t, runDLQ, "", "redrive", "billing", "--brokers", srv.Addr()); !strings.Contains(out, "nothing to redrive") {
		t.Fatalf("second redrive:\n%s", out)
	}

	if _, _, err := runCmd(t, runMessage, "", "find", "--key", "k", "--rocketmq-addr", "127.0.0.1:1", "--timeout", "2s"); err == nil ||
		!strings.Contains(err.Error(), "cannot query the broker at 127.0.0.1:1") {
		t.Fatalf("find against nothing: %v", err)
	}
}
