package rocketmq_test

import (
	"bufio"
	"context"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"

	ferryrmq "github.com/ferry-mq/ferry/internal/rocketmq"
	"github.com/ferry-mq/ferry/internal/server"
)

// call sends one remoting request to the node and returns its answer
// (rocketmq-client-go has no API for QUERY_MESSAGE or VIEW_MESSAGE_BY_ID;
// the answers are decoded with its decoder).
func call(t *testing.T, s *server.Server, code int16, fields map[string]string) *ferryrmq.Command {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.RocketMQAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := &ferryrmq.Command{Code: code, Language: 9, Opaque: 7, ExtFields: fields}
	frame, err := ferryrmq.AppendFrame(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	for {
		resp, err := ferryrmq.ReadFrame(r, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		if resp.IsResponse() && resp.Opaque == 7 {
			return resp
		}
	}
}

func query(t *testing.T, s *server.Server, topic, key string, related bool) []*primitive.MessageExt {
	t.Helper()
	resp := call(t, s, 12, map[string]string{
		"topic": topic, "key": key, "maxNum": "32", "beginTimestamp": "0",
		"endTimestamp": strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10),
		"ferryRelated": strconv.FormatBool(related),
	})
	switch resp.Code {
	case 0:
		return primitive.DecodeMessage(resp.Body)
	case 22: // QUERY_NOT_FOUND
		return nil
	}
	t.Fatalf("QUERY_MESSAGE %s/%s: code %d %s", topic, key, resp.Code, resp.Remark)
	return nil
}

func describe(msgs []*primitive.MessageExt) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Topic+"@"+strconv.FormatInt(m.QueueOffset, 10)+"="+string(m.Body))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestQueryMessageByKeyAndUniqKeyAndViewByID(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-query")
	send := func(keys, body string) *primitive.SendResult {
		t.Helper()
		m := primitive.NewMessage("shop", []byte(body))
		m.WithKeys(strings.Fields(keys))
		m.WithTag("created")
		res, err := p.SendSync(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := send("order-1 customer-7", "one")
	send("order-2", "two")
	send("order-1", "one again")

	// The order's retry and dead letter, as the consumer side writes them.
	cl := kafkaClient(t, s, kgo.AllowAutoTopicCreation())
	for _, r := range []*kgo.Record{
		{Topic: "billing.retry", Key: []byte("order-1 customer-7"), Value: []byte("one, retried"),
			Headers: []kgo.RecordHeader{{Key: "RETRY_TOPIC", Value: []byte("shop")}, {Key: "RECONSUME_TIME", Value: []byte("1")}}},
		{Topic: "billing.dlq", Key: []byte("order-1 customer-7"), Value: []byte("one, dead"),
			Headers: []kgo.RecordHeader{{Key: "RETRY_TOPIC", Value: []byte("shop")}}},
		{Topic: "billing.dlq", Key: []byte("order-1"), Value: []byte("someone else's"),
			Headers: []kgo.RecordHeader{{Key: "RETRY_TOPIC", Value: []byte("elsewhere")}}},
	} {
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	if got := describe(query(t, s, "shop", "order-1", false)); got != "shop@0=one shop@2=one again" {
		t.Fatalf("order-1 in shop: %s", got)
	}
	if got := describe(query(t, s, "shop", "customer-7", true)); got != "%DLQ%billing@0=one, dead %RETRY%billing@0=one, retried shop@0=one" {
		t.Fatalf("customer-7 in shop with retries and dead letters: %s", got)
	}
	if got := describe(query(t, s, "*", "order-1", false)); got != "%DLQ%billing@0=one, dead %DLQ%billing@1=someone else's %RETRY%billing@0=one, retried shop@0=one shop@2=one again" {
		t.Fatalf("order-1 everywhere: %s", got)
	}
	byUniq := query(t, s, "shop", first.MsgID, false)
	if got := describe(byUniq); got != "shop@0=one" {
		t.Fatalf("by UNIQ_KEY %s: %s", first.MsgID, got)
	}
	if m := byUniq[0]; m.GetTags() != "created" || m.GetKeys() != "order-1 customer-7" || m.OffsetMsgId != first.OffsetMsgID {
		t.Fatalf("found message: tags %q keys %q offsetMsgId %q (send said %q)", m.GetTags(), m.GetKeys(), m.OffsetMsgId, first.OffsetMsgID)
	}
	if got := query(t, s, "shop", "order-3", true); len(got) != 0 {
		t.Fatalf("order-3: %s", describe(got))
	}

	id, err := primitive.UnmarshalMsgID([]byte(first.OffsetMsgID))
	if err != nil {
		t.Fatal(err)
	}
	resp := call(t, s, 33, map[string]string{"offset": strconv.FormatInt(id.Offset, 10)})
	if resp.Code != 0 {
		t.Fatalf("VIEW_MESSAGE_BY_ID: %d %s", resp.Code, resp.Remark)
	}
	if got := describe(primitive.DecodeMessage(resp.Body)); got != "shop@0=one" {
		t.Fatalf("VIEW_MESSAGE_BY_ID %s: %s", first.OffsetMsgID, got)
	}
	resp = call(t, s, 33, map[string]string{"offset": strconv.FormatInt(id.Offset+1000, 10)})
	if resp.Code != 1 || !strings.Contains(resp.Remark, "no message") {
		t.Fatalf("VIEW_MESSAGE_BY_ID of nothing: %d %s", resp.Code, resp.Remark)
	}
	for _, bad := range []map[string]string{{"offset": "x"}, {}} {
		if resp := call(t, s, 33, bad); resp.Code != 29 {
			t.Fatalf("VIEW_MESSAGE_BY_ID %v: %d %s", bad, resp.Code, resp.Remark)
		}
	}
	if resp := call(t, s, 12, map[string]string{"topic": "shop", "key": ""}); resp.Code != 29 {
		t.Fatalf("QUERY_MESSAGE without key: %d %s", resp.Code, resp.Remark)
	}
	if resp := call(t, s, 12, map[string]string{"topic": "no-such-topic", "key": "k"}); resp.Code != 17 {
		t.Fatalf("QUERY_MESSAGE of an unknown topic: %d %s", resp.Code, resp.Remark)
	}
}
