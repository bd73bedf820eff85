package rocketmq_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
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

func init() { rlog.SetLogLevel("error") }

// startNode runs a single Ferry node with the RocketMQ listener on a free
// loopback port; edit changes its config first.
func startNode(t *testing.T, edit func(*config.Config)) *server.Server {
	t.Helper()
	return startNodeLogged(t, nil, edit)
}

// startNodeLogged is startNode with the node's logger.
func startNodeLogged(t *testing.T, logger *slog.Logger, edit func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = ""
	cfg.RocketMQ.Addr = "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.Start(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var instances atomic.Int64

// newProducer starts a real RocketMQ producer of group against the node.
// Each gets its own instance name: the client library shares one client
// per instance name in a process.
func newProducer(t *testing.T, s *server.Server, group string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.RocketMQAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName(fmt.Sprintf("test-%d", instances.Add(1))),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10 * time.Second),
	}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// kafkaClient is a franz-go client of the node's Kafka listener.
func kafkaClient(t *testing.T, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeN reads n records of topic from the start with franz-go.
func consumeN(t *testing.T, s *server.Server, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := kafkaClient(t, s, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before the timeout", len(recs), n, topic)
		}
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded {
				t.Logf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
			}
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// header returns the value of record header key and whether it is there.
func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
