package msgindex

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// memSource is an in-memory partition log of uncompressed v2 batches.
type memSource struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
	start   int64
	watch   map[chan struct{}]bool
}

func (s *memSource) append(ts int64, recs ...kmsg.Record) {
	s.mu.Lock()
	var raw []byte
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
		body := recs[i].AppendTo(nil)
		recs[i].Length = int32(len(body) - 1)
		raw = recs[i].AppendTo(raw)
	}
	b := kmsg.RecordBatch{FirstOffset: s.next, Magic: 2, LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, NumRecords: int32(len(recs)), Records: raw}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	s.batches = append(s.batches, out)
	s.next += int64(len(recs))
	for ch := range s.watch {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

func (s *memSource) StartOffset() int64   { s.mu.Lock(); defer s.mu.Unlock(); return s.start }
func (s *memSource) HighWatermark() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.next }
func (s *memSource) Watch(ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watch == nil {
		s.watch = map[chan struct{}]bool{}
	}
	s.watch[ch] = true
}
func (s *memSource) Unwatch(ch chan struct{}) { s.mu.Lock(); defer s.mu.Unlock(); delete(s.watch, ch) }

func (s *memSource) Read(offset int64, maxBytes int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []byte
	for _, b := range s.batches {
		base := int64(binary.BigEndian.Uint64(b))
		last := base + int64(binary.BigEndian.Uint32(b[23:]))
		if last < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

// decodeUncompressed is a DecodeFunc for the test's batches.
func decodeUncompressed(data []byte, fn func(Record) error) error {
	for len(data) > 0 {
		size := 12 + int(binary.BigEndian.Uint32(data[8:]))
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data[:size]); err != nil {
			return err
		}
		data = data[size:]
		recs := b.Records
		for range b.NumRecords {
			var r kmsg.Record
			l, n := binary.Varint(recs)
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				return err
			}
			recs = recs[n+int(l):]
			err := fn(Record{Offset: b.FirstOffset + int64(r.OffsetDelta), Timestamp: b.FirstTimestamp + r.TimestampDelta64,
				Key: r.Key, Value: r.Value, Headers: r.Headers})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func rec(key, uniq, value string) kmsg.Record {
	r := kmsg.Record{Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	if uniq != "" {
		r.Headers = []kmsg.Header{{Key: "TAGS", Value: []byte("a")}, {Key: UniqKeyHeader, Value: []byte(uniq)}}
	}
	return r
}

func TestManagerFindsByKeyAndUniqKeyAcrossTopics(t *testing.T) {
	orders, retry := &memSource{}, &memSource{}
	var mu sync.Mutex
	refs := []PartitionRef{{Topic: "orders", Index: 0, TopicID: [16]byte{1}, Source: orders}, {Topic: "G.retry", Index: 0, TopicID: [16]byte{2}, Source: retry}}
	m := NewManager(ManagerOptions{Dir: t.TempDir(), Decode: decodeUncompressed, Rescan: time.Hour,
		Partitions: func() []PartitionRef { mu.Lock(); defer mu.Unlock(); return refs }})
	m.Start()
	defer m.Close()

	orders.append(1000, rec("order-1 customer-7", "U1", "first"), rec("", "", "no keys"), rec("order-2", "U2", "second"))
	orders.append(2000, rec("order-1", "U3", "first again"))
	retry.append(3000, rec("order-1 customer-7", "U1", "first, retried"))

	find := func(q Query) []Found {
		t.Helper()
		q.WaitIndexedFor = 5 * time.Second
		got, err := m.Find(q)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := find(Query{Key: "order-1"})
	if len(got) != 3 || got[0].Topic != "G.retry" || got[1].Topic != "orders" || got[1].Record.Offset != 0 || got[2].Record.Offset != 3 {
		t.Fatalf("order-1: %+v", got)
	}
	if got := find(Query{Key: "customer-7", Topics: func(s string) bool { return s == "orders" }}); len(got) != 1 || string(got[0].Record.Value) != "first" {
		t.Fatalf("customer-7 in orders: %+v", got)
	}
	if got := find(Query{Key: "U2"}); len(got) != 1 || string(got[0].Record.Value) != "second" || got[0].Record.Offset != 2 {
		t.Fatalf("U2: %+v", got)
	}
	if got := find(Query{Key: "order-1", FromMs: 1500, ToMs: 2500}); len(got) != 1 || got[0].Record.Offset != 3 {
		t.Fatalf("order-1 in time range: %+v", got)
	}
	if got := find(Query{Key: "order"}); len(got) != 0 {
		t.Fatalf("a prefix of a key matched: %+v", got)
	}

	// A recreated topic (new id) is indexed from scratch.
	fresh := &memSource{}
	fresh.append(5000, rec("order-9", "", "new incarnation"))
	mu.Lock()
	refs = []PartitionRef{{Topic: "orders", Index: 0, TopicID: [16]byte{9}, Source: fresh}}
	mu.Unlock()
	m.Rescan()
	if got := find(Query{Key: "order-1"}); len(got) != 0 {
		t.Fatalf("order-1 after the topics went: %+v", got)
	}
	if got := find(Query{Key: "order-9"}); len(got) != 1 {
		t.Fatalf("order-9: %+v", got)
	}
}

func TestManagerResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	src := &memSource{}
	refs := func() []PartitionRef { return []PartitionRef{{Topic: "t", Index: 3, Source: src}} }
	m := NewManager(ManagerOptions{Dir: dir, Decode: decodeUncompressed, Rescan: time.Hour, Partitions: refs})
	m.Start()
	src.append(1, rec("a", "", "1"))
	if got, _ := m.Find(Query{Key: "a", WaitIndexedFor: 5 * time.Second}); len(got) != 1 {
		t.Fatalf("a: %+v", got)
	}
	m.Close()
	src.append(2, rec("a", "", "2"))
	m = NewManager(ManagerOptions{Dir: dir, Decode: decodeUncompressed, Rescan: time.Hour, Partitions: refs})
	m.Start()
	defer m.Close()
	got, err := m.Find(Query{Key: "a", WaitIndexedFor: 5 * time.Second})
	if err != nil || len(got) != 2 || string(got[1].Record.Value) != "2" {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}
