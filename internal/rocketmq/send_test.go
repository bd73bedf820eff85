package rocketmq_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/rocketmq"
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

// TestSendKinds: async, one-way and batch sends, and a body big enough
// for the client to compress, all arrive as records with their bodies
// intact; a non-zero flag becomes the rocketmq.flag header.
func TestSendKinds(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-kinds")
	ctx := context.Background()

	done := make(chan error, 1)
	err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
		if err == nil && r.Status != primitive.SendOK {
			err = fmt.Errorf("status %v", r.Status)
		}
		done <- err
	}, primitive.NewMessage("kinds", []byte("async")))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("async send: %v", err)
	}
	if err := p.SendOneWay(ctx, primitive.NewMessage("kinds", []byte("oneway"))); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("compressible "), 1000) // over the client's 4 KiB compression threshold
	flagged := primitive.NewMessage("kinds", big)
	flagged.Flag = 5
	if _, err := p.SendSync(ctx, flagged); err != nil {
		t.Fatal(err)
	}
	batch := []*primitive.Message{
		primitive.NewMessage("kinds", []byte("batch-0")),
		primitive.NewMessage("kinds", []byte("batch-1")).WithKeys([]string{"k1"}),
		primitive.NewMessage("kinds", []byte("batch-2")),
	}
	res, err := p.SendSync(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(res.OffsetMsgID, ",") + 1; got != 3 {
		t.Errorf("batch answered %d message ids (%q), want 3", got, res.OffsetMsgID)
	}

	recs := consumeN(t, s, "kinds", 6)
	var values []string
	for _, r := range recs {
		switch {
		case bytes.Equal(r.Value, big):
			values = append(values, "big")
			if f, _ := header(r, "rocketmq.flag"); f != "5" {
				t.Errorf("flag header %q, want 5", f)
			}
		default:
			values = append(values, string(r.Value))
			if _, ok := header(r, "rocketmq.flag"); ok {
				t.Errorf("record %q has a flag header; its flag is 0", r.Value)
			}
		}
		if string(r.Value) == "batch-1" && string(r.Key) != "k1" {
			t.Errorf("batch message key %q, want k1", r.Key)
		}
	}
	want := []string{"async", "oneway", "big", "batch-0", "batch-1", "batch-2"}
	if !slices.Equal(values, want) {
		t.Fatalf("records %q, want %q", values, want)
	}
}

// TestOrderedSend: with a MessageQueueSelector hashing a sharding key over
// a 4-queue topic, every key's messages land in one partition in the
// order sent, and the keys spread over more than one partition.
func TestOrderedSend(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.NumPartitions = 4 })
	p := newProducer(t, s, "pg-ordered", producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 8, 10
	for i := range perKey {
		for k := range keys {
			msg := primitive.NewMessage("ordered", fmt.Appendf(nil, "%d", i))
			msg.WithShardingKey(fmt.Sprintf("order-%d", k))
			msg.WithProperty("order", fmt.Sprintf("order-%d", k))
			if _, err := p.SendSync(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	partitionOf := map[string]int32{}
	next := map[string]int{}
	for _, r := range consumeN(t, s, "ordered", keys*perKey) {
		k, _ := header(r, "order")
		if p, ok := partitionOf[k]; ok && p != r.Partition {
			t.Fatalf("%s in partitions %d and %d", k, p, r.Partition)
		}
		partitionOf[k] = r.Partition
		if string(r.Value) != strconv.Itoa(next[k]) {
			t.Fatalf("%s: got message %s, want %d", k, r.Value, next[k])
		}
		next[k]++
	}
	used := map[int32]bool{}
	for _, p := range partitionOf {
		used[p] = true
	}
	if len(used) < 2 {
		t.Fatalf("all keys in partitions %v; the selector should spread them", used)
	}
}

// TestSendV2BinaryHeader: SEND_MESSAGE_V2 (the Java client's short field
// names) in RocketMQ's binary header encoding stores the message, and the
// answer, in the same encoding, names where.
func TestSendV2BinaryHeader(t *testing.T) {
	s := startNode(t, nil)
	c := dialRaw(t, s)
	props := string(rocketmq.AppendProperties(nil, []rocketmq.Property{{Name: "KEYS", Value: "k"}, {Name: "TAGS", Value: "t"}}))
	req := sendRequest(310, map[string]string{"a": "pg", "b": "v2", "e": "0", "f": "0", "g": "1700000000000", "h": "0", "i": props}, []byte("from java"))
	req.Serialize = rocketmq.SerializeBinary
	resp := c.call(req)
	if resp.Code != rocketmq.ResSuccess || resp.Field("queueOffset") != "0" || resp.Field("queueId") != "0" || len(resp.Field("msgId")) != 32 {
		t.Fatalf("response %+v", resp)
	}
	r := consumeN(t, s, "v2", 1)[0]
	if tag, _ := header(r, "TAGS"); string(r.Value) != "from java" || string(r.Key) != "k" || tag != "t" || r.Timestamp.UnixMilli() != 1700000000000 {
		t.Fatalf("record value %q key %q tag %q timestamp %v", r.Value, r.Key, tag, r.Timestamp)
	}
}
