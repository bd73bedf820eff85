package rocketmq_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/norace"
)

func each(topic string, n int, partitions int32, prefix string) []*kgo.Record {
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte(fmt.Sprintf("%s%d", prefix, i))})
	}
	return recs
}

func hasAll(want map[string]int) func([]*primitive.MessageExt) bool {
	return func(msgs []*primitive.MessageExt) bool {
		got := bodies(msgs)
		for b := range want {
			if got[b] == 0 {
				return false
			}
		}
		return true
	}
}

func queuesOf(msgs []*primitive.MessageExt, prefix string) map[int]bool {
	q := map[int]bool{}
	for _, m := range msgs {
		if strings.HasPrefix(string(m.Body), prefix) {
			q[m.Queue.QueueId] = true
		}
	}
	return q
}

// TestPushConsumersClustering: two push consumers of one group split the
// topic's queues between them (each queue consumed by one of them), their
// progress is committed to the group coordinator — the Kafka API shows
// the group's offsets — and a consumer started after both stopped resumes
// where they left off.
func TestPushConsumersClustering(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, nil)
	createTopic(t, s, "split", 4)
	recA, recB := newReceived(), newReceived()
	stopA := newPushConsumer(t, s, "cg", "split", consumer.MessageSelector{}, recA, nil)
	stopB := newPushConsumer(t, s, "cg", "split", consumer.MessageSelector{}, recB, nil)

	// GET_CONSUMER_LIST_BY_GROUP names both members (the clients share
	// the queues by their place in it); an unknown group has none.
	c := dialRemoting(t, s.RocketMQAddr())
	waitUntil(t, "two members listed", func() bool {
		resp := c.call(38, map[string]string{"consumerGroup": "cg"}, nil)
		return resp.Code == resSuccess && strings.Count(string(resp.Body), "@") == 2
	})
	if resp := c.call(38, map[string]string{"consumerGroup": "nobody"}, nil); resp.Code == resSuccess {
		t.Errorf("a group without consumers listed %s", resp.Body)
	}

	// Produce rounds of one message per queue until a round is split
	// between the two: the group has rebalanced to two members.
	produced := 0
	deadline := time.Now().Add(90 * time.Second)
	for round := 0; ; round++ {
		if time.Now().After(deadline) {
			t.Fatal("the two consumers never split the queues")
		}
		prefix := fmt.Sprintf("r%d-", round)
		produceKafka(t, s, each("split", 4, 4, prefix)...)
		produced += 4
		want := bodies(nil)
		for i := range 4 {
			want[fmt.Sprintf("%s%d", prefix, i)] = 1
		}
		for !hasAll(want)(append(recA.snapshot(), recB.snapshot()...)) {
			select {
			case <-recA.more:
			case <-recB.more:
			case <-time.After(time.Until(deadline)):
				t.Fatalf("round %d not consumed", round)
			}
		}
		qa, qb := queuesOf(recA.snapshot(), prefix), queuesOf(recB.snapshot(), prefix)
		overlap := false
		for q := range qa {
			overlap = overlap || qb[q]
		}
		if len(qa) > 0 && len(qb) > 0 && !overlap {
			t.Logf("round %d: consumer A has queues %v, B has %v", round, qa, qb)
			break
		}
	}

	// Each queue's committed offset reaches its end.
	perQueue := int64(produced / 4)
	waitUntil(t, "offsets committed", func() bool {
		got := committed(t, s, "cg", "split")
		for p := range int32(4) {
			if got[p] != perQueue {
				return false
			}
		}
		return true
	})
	stopA()
	stopB()

	produceKafka(t, s, each("split", 8, 4, "after-")...)
	recC := newReceived()
	newPushConsumer(t, s, "cg", "split", consumer.MessageSelector{}, recC, nil)
	want := map[string]int{}
	for i := range 8 {
		want[fmt.Sprintf("after-%d", i)] = 1
	}
	msgs := recC.waitFor(t, "the messages sent after the restart", hasAll(want))
	for _, m := range msgs {
		if !strings.HasPrefix(string(m.Body), "after-") {
			t.Errorf("the restarted consumer got %q again: it did not resume from the committed offsets", m.Body)
		}
	}
}

// waitUntil polls cond every 200 ms for up to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPushConsumersBroadcasting: in broadcasting mode every member of the
// group gets every message.
func TestPushConsumersBroadcasting(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, nil)
	createTopic(t, s, "news", 2)
	group := fmt.Sprintf("bc-%d", time.Now().UnixNano())
	t.Cleanup(func() { removeLocalOffsets(group) })
	produceKafka(t, s, each("news", 10, 2, "n")...)
	want := bodies(nil)
	for i := range 10 {
		want[fmt.Sprintf("n%d", i)] = 1
	}
	recA, recB := newReceived(), newReceived()
	newPushConsumer(t, s, group, "news", consumer.MessageSelector{}, recA, nil, consumer.WithConsumerModel(consumer.BroadCasting))
	newPushConsumer(t, s, group, "news", consumer.MessageSelector{}, recB, nil, consumer.WithConsumerModel(consumer.BroadCasting))
	recA.waitFor(t, "every message at consumer A", hasAll(want))
	recB.waitFor(t, "every message at consumer B", hasAll(want))
}

// removeLocalOffsets deletes the broadcasting consumers' offset files the
// client library keeps under $HOME.
func removeLocalOffsets(group string) {
	root := filepath.Join(os.Getenv("HOME"), ".rocketmq_client_go")
	dirs, _ := os.ReadDir(root)
	os.RemoveAll(filepath.Join(root, group))
	for _, d := range dirs {
		os.RemoveAll(filepath.Join(root, d.Name(), group))
		os.Remove(filepath.Join(root, d.Name())) // only when empty
	}
	os.Remove(root) // only when empty
}

// TestOrderlyConsumers: messages sent with a MessageQueueSelector (by
// sharding key) are consumed in send order per key by two orderly
// consumers of one group, which lock their queues (LOCK_BATCH_MQ); a
// third client cannot lock queues live members hold.
//
// rocketmq-client-go does not unlock the queues a rebalance takes from an
// orderly consumer, so their new owner waits for the old locks to lapse:
// the node runs with short-lived locks to keep the test short.
func TestOrderlyConsumers(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, func(c *config.Config) { c.RocketMQ.QueueLockTTL = 3 * time.Second })
	createTopic(t, s, "orders", 3)
	p := newProducer(t, s, "po", producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 4, 15
	for i := range perKey {
		for k := range keys {
			msg := primitive.NewMessage("orders", []byte(fmt.Sprintf("k%d-%02d", k, i)))
			msg.WithShardingKey(fmt.Sprintf("k%d", k))
			if _, err := p.SendSync(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	recA, recB := newReceived(), newReceived()
	newPushConsumer(t, s, "oc", "orders", consumer.MessageSelector{}, recA, nil, consumer.WithConsumerOrder(true))
	newPushConsumer(t, s, "oc", "orders", consumer.MessageSelector{}, recB, nil, consumer.WithConsumerOrder(true))
	total := func([]*primitive.MessageExt) bool {
		return len(bodies(append(recA.snapshot(), recB.snapshot()...))) == keys*perKey
	}
	recA.waitFor(t, "every message", func([]*primitive.MessageExt) bool { return total(nil) })
	for name, rec := range map[string]*received{"A": recA, "B": recB} {
		last := map[string]string{}
		for _, m := range rec.snapshot() {
			key, seq, _ := strings.Cut(string(m.Body), "-")
			if prev, ok := last[key]; ok && seq < prev {
				t.Errorf("consumer %s got %s after %s-%s", name, m.Body, key, prev)
			}
			last[key] = seq
		}
	}

	c := dialRemoting(t, s.RocketMQAddr())
	body := []byte(`{"consumerGroup":"oc","clientId":"intruder","mqSet":[` +
		`{"topic":"orders","brokerName":"ferry-0","queueId":0},{"topic":"orders","brokerName":"ferry-0","queueId":1},` +
		`{"topic":"orders","brokerName":"ferry-0","queueId":2}]}`)
	resp := c.call(41, nil, body)
	if resp.Code != resSuccess || !strings.Contains(string(resp.Body), `"lockOKMQSet":[]`) {
		t.Errorf("a third client locked queues the group's consumers hold: code %d body %s", resp.Code, resp.Body)
	}
}

// TestPullConsumer: the client's pull consumer reads every queue, with
// its subscription in the pull request.
func TestPullConsumer(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, nil)
	createTopic(t, s, "pullme", 2)
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, tagged("pullme", []string{"A", "B"}[i/2%2], fmt.Sprintf("p%d", i)))
		recs[i].Partition = int32(i % 2)
	}
	produceKafka(t, s, recs...)
	pc, err := consumer.NewPullConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.RocketMQAddr()})),
		consumer.WithGroupName("pc"),
		consumer.WithInstance(fmt.Sprintf("test-%d", instances.Add(1))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("pullme", consumer.MessageSelector{Type: consumer.TAG, Expression: "A"}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Shutdown() })
	got := map[string]bool{}
	for q := range 2 {
		mq := &primitive.MessageQueue{Topic: "pullme", BrokerName: "ferry-0", QueueId: q}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := pc.PullFrom(ctx, mq, 0, 32)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != primitive.PullFound {
			t.Fatalf("queue %d: status %v", q, res.Status)
		}
		for _, m := range res.GetMessageExts() {
			got[string(m.Body)] = true
		}
		if res.NextBeginOffset != 3 {
			t.Errorf("queue %d: next offset %d, want 3", q, res.NextBeginOffset)
		}
	}
	if len(got) != 4 || !got["p0"] || !got["p1"] || !got["p4"] || !got["p5"] {
		t.Errorf("pulled %v, want the TagA messages p0 p1 p4 p5", got)
	}
}

// TestKafkaProducerToRocketMQConsumer: a record written by franz-go reads
// as a RocketMQ message with the same contents: value as body, key as
// KEYS, headers as properties (TAGS the tag), timestamp as born time.
func TestKafkaProducerToRocketMQConsumer(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	s := startNode(t, nil)
	createTopic(t, s, "interop", 1)
	ts := time.UnixMilli(1_760_000_000_123)
	produceKafka(t, s, &kgo.Record{
		Topic: "interop", Key: []byte("order-9 cust-3"), Value: []byte("hello from kafka"), Timestamp: ts,
		Headers: []kgo.RecordHeader{{Key: "TAGS", Value: []byte("created")}, {Key: "region", Value: []byte("eu")}},
	})
	rec := newReceived()
	newPushConsumer(t, s, "ic", "interop", consumer.MessageSelector{Type: consumer.TAG, Expression: "created"}, rec, nil)
	m := rec.waitFor(t, "the record", func(m []*primitive.MessageExt) bool { return len(m) > 0 })[0]
	if string(m.Body) != "hello from kafka" || m.GetKeys() != "order-9 cust-3" || m.GetTags() != "created" ||
		m.GetProperty("region") != "eu" || m.BornTimestamp != ts.UnixMilli() || m.QueueOffset != 0 || m.Topic != "interop" {
		t.Fatalf("message %v", m)
	}
	if len(m.MsgId) != 32 || m.MsgId != m.OffsetMsgId {
		t.Errorf("message id %q, offset id %q", m.MsgId, m.OffsetMsgId)
	}
}
