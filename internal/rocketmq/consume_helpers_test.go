package rocketmq_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	frmq "github.com/ferry-mq/ferry/internal/rocketmq"
	"github.com/ferry-mq/ferry/internal/server"
)

// remotingClient speaks the remoting protocol directly, for tests that check
// exact response codes and header fields.
type remotingClient struct {
	t      *testing.T
	nc     net.Conn
	r      *bufio.Reader
	mu     sync.Mutex
	opaque int32
}

func dialRemoting(t *testing.T, addr string) *remotingClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &remotingClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// call sends a request and returns its response (one request at a time).
func (c *remotingClient) call(code int16, fields map[string]string, body []byte) *frmq.Command {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opaque++
	req := &frmq.Command{Code: code, Language: 9, Version: 473, Opaque: c.opaque, ExtFields: fields, Body: body}
	frame, err := frmq.AppendFrame(nil, req)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatal(err)
	}
	c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := frmq.ReadFrame(c.r, 64<<20)
	if err != nil {
		c.t.Fatalf("request %d: %v", code, err)
	}
	if resp.Opaque != req.Opaque {
		c.t.Fatalf("response opaque %d, want %d", resp.Opaque, req.Opaque)
	}
	return resp
}

// createTopic creates a topic with n partitions through the Kafka API.
func createTopic(t *testing.T, s *server.Server, topic string, n int32) {
	t.Helper()
	adm := kadm.NewClient(kafkaClient(t, s))
	res, err := adm.CreateTopics(context.Background(), n, 1, nil, topic)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// produceKafka writes records with franz-go and waits for their acks.
func produceKafka(t *testing.T, s *server.Server, recs ...*kgo.Record) {
	t.Helper()
	cl := kafkaClient(t, s, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committed returns group's committed offsets per partition of topic as
// the Kafka API shows them.
func committed(t *testing.T, s *server.Server, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(kafkaClient(t, s))
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		out[p] = o.At
	}
	return out
}

// received collects the messages a push consumer's callback gets.
type received struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt
	more chan struct{}
}

func newReceived() *received { return &received{more: make(chan struct{}, 1)} }

func (r *received) add(msgs ...*primitive.MessageExt) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msgs...)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *received) snapshot() []*primitive.MessageExt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*primitive.MessageExt(nil), r.msgs...)
}

// waitFor waits until cond holds for what was received, failing the test
// after a minute.
func (r *received) waitFor(t *testing.T, what string, cond func([]*primitive.MessageExt) bool) []*primitive.MessageExt {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		msgs := r.snapshot()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-r.more:
		case <-time.After(200 * time.Millisecond): // cond may look at other receivers too
		case <-deadline:
			t.Fatalf("timed out waiting for %s; received %d messages", what, len(msgs))
		}
	}
}

// newPushConsumer starts a real push consumer of group subscribed to
// topic with selector; every message goes to rec, and the callback's
// result is result (ConsumeSuccess when nil). stop shuts it down (once;
// the test's cleanup calls it too).
func newPushConsumer(t *testing.T, s *server.Server, group, topic string, selector consumer.MessageSelector, rec *received,
	result func(context.Context, []*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) (stop func()) {
	t.Helper()
	opts = append([]consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.RocketMQAddr()})),
		consumer.WithGroupName(group),
		consumer.WithInstance(fmt.Sprintf("test-%d", instances.Add(1))),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, selector, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		rec.add(msgs...)
		if result != nil {
			return result(ctx, msgs), nil
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { c.Shutdown() }) }
	t.Cleanup(stop)
	return stop
}

// bodies returns the message bodies as a set.
func bodies(msgs []*primitive.MessageExt) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[string(m.Body)]++
	}
	return out
}

// clientRaces is why tests that run rocketmq-client-go's consumers run
// without the race detector (norace.Rerun): the library races inside
// itself (rebalance against its own Shutdown, the orderly consumer's
// process queue, the pull consumer against its rebalance); every report is
// in its code, not Ferry's.
const clientRaces = "rocketmq-client-go's consumers race inside the library"
