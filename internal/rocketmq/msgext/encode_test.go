package msgext

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/filter"
)

// storedBatch builds a stored batch at base whose records are recs.
func storedBatch(tb testing.TB, base int64, recs []kmsg.Record) []byte {
	tb.Helper()
	var raw []byte
	for i := range recs {
		r := recs[i]
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = int64(i)
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
	}
	b := kmsg.RecordBatch{
		FirstOffset: base, PartitionLeaderEpoch: -1, Magic: 2,
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000 + int64(len(recs)-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func hdr(k, v string) kmsg.Header { return kmsg.Header{Key: k, Value: []byte(v)} }

func testQueue() *Queue {
	return &Queue{
		Topic: "%RETRY%g1", QueueID: 3, StoreHost: netip.MustParseAddrPort("10.1.2.3:9876"),
		CommitLogOffset: func(o int64) int64 { return 7<<40 | o },
	}
}

func encodeAll(tb testing.TB, q *Queue, batch []byte, f *filter.Filter) []byte {
	tb.Helper()
	var body []byte
	if _, err := log.EachStoredRecord(batch, func(_ log.BatchHeader, r log.StoredRecord) error {
		if Matches(f, r) {
			body = Append(body, q, r)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return body
}

// TestRealClientDecodes checks the encoding with the RocketMQ Go client's
// own decoder.
func TestRealClientDecodes(t *testing.T) {
	long := strings.Repeat("x", 40000)
	batch := storedBatch(t, 100, []kmsg.Record{
		{Key: []byte("k1 k2"), Value: []byte("hello"), Headers: []kmsg.Header{
			hdr("TAGS", "TagA"), hdr("UNIQ_KEY", "ABCDEF"), hdr("rocketmq.flag", "9"), hdr("RECONSUME_TIME", "2"),
			hdr("user", "u1"), hdr("bad\x01name", "v"), hdr("KEYS", "ignored"),
		}},
		{Value: nil, Headers: []kmsg.Header{hdr("big", long), hdr("small", "s")}},
	})
	q := testQueue()
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
	body := encodeAll(t, q, batch, nil)
	msgs := primitive.DecodeMessage(body)
	if len(msgs) != 2 {
		t.Fatalf("decoded %d messages", len(msgs))
	}
	m := msgs[0]
	if m.Topic != "%RETRY%g1" || m.Queue.QueueId != 3 || m.QueueOffset != 100 || string(m.Body) != "hello" {
		t.Errorf("message 0: %v", m)
	}
	if m.Flag != 9 || m.ReconsumeTimes != 2 || m.BornTimestamp != 1_700_000_000_000 || m.StoreTimestamp != 1_700_000_000_000 {
		t.Errorf("fields: %v", m)
	}
	if m.CommitLogOffset != 7<<40|100 || m.StoreHost != "10.1.2.3:9876" {
		t.Errorf("location: %v", m)
	}
	if want := primitive.CreateMessageId([]byte{10, 1, 2, 3}, 9876, 7<<40|100); m.OffsetMsgId != want || m.MsgId != "ABCDEF" {
		t.Errorf("ids %s %s, want offset id %s", m.OffsetMsgId, m.MsgId, want)
	}
	if m.BodyCRC != int32(crc32.ChecksumIEEE([]byte("hello"))&0x7FFFFFFF) {
		t.Errorf("body crc %d", m.BodyCRC)
	}
	props := m.GetProperties()
	want := map[string]string{"KEYS": "k1 k2", "TAGS": "TagA", "UNIQ_KEY": "ABCDEF", "RECONSUME_TIME": "2", "user": "u1"}
	if len(props) != len(want) {
		t.Errorf("properties %v, want %v", props, want)
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	m = msgs[1]
	if len(m.Body) != 0 || m.QueueOffset != 101 || m.GetKeys() != "" {
		t.Errorf("message 1: %v", m)
	}
	if p := m.GetProperties(); len(p) != 1 || p["small"] != "s" {
		t.Errorf("message 1 properties: %d of them, small=%q (the 40000-byte one must be left out)", len(p), p["small"])
	}
}

func TestIPv6StoreHost(t *testing.T) {
	q := testQueue()
	q.StoreHost = netip.MustParseAddrPort("[2001:db8::1]:10911")
	body := encodeAll(t, q, storedBatch(t, 0, []kmsg.Record{{Value: []byte("v")}}), nil)
	msgs := primitive.DecodeMessage(body)
	if len(msgs) != 1 || string(msgs[0].Body) != "v" || !strings.Contains(msgs[0].StoreHost, "10911") {
		t.Fatalf("decoded %v", msgs)
	}
}

func TestMatches(t *testing.T) {
	batch := storedBatch(t, 0, []kmsg.Record{
		{Key: []byte("order-1"), Value: []byte("a"), Headers: []kmsg.Header{hdr("TAGS", "TagA"), hdr("region", "eu"), hdr("amount", "10")}},
		{Value: []byte("b"), Headers: []kmsg.Header{hdr("TAGS", "TagB"), hdr("region", "us"), hdr("amount", "200")}},
		{Value: []byte("c")},
	})
	cases := []struct{ typ, expr, want string }{
		{"TAG", "*", "abc"},
		{"TAG", "TagA", "a"},
		{"TAG", "TagA || TagB", "ab"},
		{"TAG", "TagC", ""},
		{"SQL92", "region = 'us'", "b"},
		{"SQL92", "amount > 50 OR KEYS = 'order-1'", "ab"},
		{"SQL92", "amount IS NULL", "c"},
		{"SQL92", "TAGS IN ('TagA')", "a"},
	}
	for _, c := range cases {
		f, err := filter.Compile(c.typ, c.expr)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, m := range primitive.DecodeMessage(encodeAll(t, testQueue(), batch, f)) {
			got = append(got, m.Body...)
		}
		if string(got) != c.want {
			t.Errorf("%s %q: got %q, want %q", c.typ, c.expr, got, c.want)
		}
	}
}

func TestCheckRefusesLongTopic(t *testing.T) {
	q := testQueue()
	q.Topic = strings.Repeat("t", 256)
	if q.Check() == nil {
		t.Fatal("a 256-byte topic must be refused")
	}
}

func TestParseInt32(t *testing.T) {
	for in, want := range map[string]int32{"0": 0, "16": 16, "-1": -1, "x": 0, "": 0, "2147483648": 0, "-2147483648": -1 << 31, "99999999999": 0} {
		if got := parseInt32([]byte(in)); got != want {
			t.Errorf("parseInt32(%q) = %d, want %d", in, got, want)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	var recs []kmsg.Record
	for i := 0; i < 32; i++ {
		recs = append(recs, kmsg.Record{Key: []byte("key"), Value: bytes.Repeat([]byte("v"), 256),
			Headers: []kmsg.Header{hdr("TAGS", "TagA"), hdr("UNIQ_KEY", "0A0B0C0D0E0F1011121314151617")}})
	}
	batch := storedBatch(b, 0, recs)
	q := testQueue()
	body := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		body = body[:0]
		log.EachStoredRecord(batch, func(_ log.BatchHeader, r log.StoredRecord) error {
			body = Append(body, q, r)
			return nil
		})
	}
}
