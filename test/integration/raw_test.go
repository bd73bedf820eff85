package integration

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hand-built produce requests: idempotent retries, sequence gaps and corrupt
// batches, checked at the protocol level.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rawBatch encodes a v2 record batch of values with a correct length and CRC.
func rawBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		body := r.AppendTo(nil) // Length 0 takes one varint byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp:  now,
		MaxTimestamp:    now,
		ProducerID:      pid,
		ProducerEpoch:   epoch,
		FirstSequence:   seq,
		NumRecords:      int32(len(values)),
		Records:         recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// rawProduce sends one batch to topic/0 with acks=all and returns the
// partition response.
func rawProduce(t testing.TB, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	return rawProduceTo(t, cl, topic, 0, batch)
}

// rawProduceTo is rawProduce to any partition.
func rawProduceTo(t testing.TB, cl *kgo.Client, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("produce request: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response has %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

func initProducerID(t testing.TB, cl *kgo.Client) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("InitProducerID: %v", err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func TestRawIdempotentRetryIsDeduplicated(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cl := newClient(t, srv.Addr())
	pid, epoch := initProducerID(t, cl)

	b0 := rawBatch(pid, epoch, 0, "a", "b")
	if r := rawProduce(t, cl, topic, b0); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("first produce: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	b1 := rawBatch(pid, epoch, 2, "c")
	if r := rawProduce(t, cl, topic, b1); r.ErrorCode != 0 || r.BaseOffset != 2 {
		t.Fatalf("second produce: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	// A retry of either batch (its ack was "lost") succeeds with the
	// original offset and appends nothing, as in Kafka.
	for name, b := range map[string][]byte{"last batch": b1, "earlier batch": b0} {
		r := rawProduce(t, cl, topic, b)
		if r.ErrorCode != 0 {
			t.Fatalf("retry of the %s: error %v, want none (duplicate)", name, kerr.ErrorForCode(r.ErrorCode))
		}
		want := int64(2)
		if name == "earlier batch" {
			want = 0
		}
		if r.BaseOffset != want {
			t.Fatalf("retry of the %s: base offset %d, want the original %d", name, r.BaseOffset, want)
		}
	}
	if eo := endOffsets(t, adm, topic)[0]; eo != 3 {
		t.Fatalf("end offset %d after duplicate retries, want 3", eo)
	}
	// A gap in the sequence is refused.
	if r := rawProduce(t, cl, topic, rawBatch(pid, epoch, 7, "gap")); !errors.Is(kerr.ErrorForCode(r.ErrorCode), kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("produce with sequence 7 after 2: error %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(r.ErrorCode))
	}
	// The next in sequence is fine.
	if r := rawProduce(t, cl, topic, rawBatch(pid, epoch, 3, "d")); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("produce with sequence 3: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 4)
	for i, want := range []string{"a", "b", "c", "d"} {
		if string(got[i].Value) != want || got[i].Offset != int64(i) || got[i].ProducerID != pid {
			t.Fatalf("record %d: %q at %d pid %d, want %q at %d pid %d", i, got[i].Value, got[i].Offset, got[i].ProducerID, want, i, pid)
		}
	}
}

func TestRawCorruptBatchRefused(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cl := newClient(t, srv.Addr())
	if r := rawProduce(t, cl, topic, rawBatch(-1, -1, -1, "good")); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	bad := rawBatch(-1, -1, -1, "flipped")
	bad[len(bad)-1] ^= 0xff // payload no longer matches the CRC
	if r := rawProduce(t, cl, topic, bad); !errors.Is(kerr.ErrorForCode(r.ErrorCode), kerr.CorruptMessage) {
		t.Fatalf("batch with a bad CRC: error %v, want CORRUPT_MESSAGE", kerr.ErrorForCode(r.ErrorCode))
	}
	short := rawBatch(-1, -1, -1, "short")
	binary.BigEndian.PutUint32(short[8:], uint32(len(short))) // length past the end
	r := rawProduce(t, cl, topic, short)
	if r.ErrorCode == 0 {
		t.Fatalf("batch whose length runs past the records field was accepted at %d", r.BaseOffset)
	}
	if eo := endOffsets(t, adm, topic)[0]; eo != 1 {
		t.Fatalf("end offset %d after refused batches, want 1", eo)
	}
	// The connection and the partition still work.
	if r := rawProduce(t, cl, topic, rawBatch(-1, -1, -1, "good2")); r.ErrorCode != 0 || r.BaseOffset != 1 {
		t.Fatalf("good batch after bad ones: error %v base %d", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 2)
	if string(got[0].Value) != "good" || string(got[1].Value) != "good2" {
		t.Fatalf("log holds %q, %q", got[0].Value, got[1].Value)
	}
}

func TestFetchPastEndIsOutOfRange(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	produceSync(t, newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic)), &kgo.Record{Value: []byte("x")})
	cons := newClient(t, srv.Addr(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(5)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := testCtx(t, 10*time.Second)
	var ferr error
	for ferr == nil && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if len(fs.Records()) > 0 {
			t.Fatal("fetch past the end returned records")
		}
	}
	if !errors.Is(ferr, kerr.OffsetOutOfRange) {
		t.Fatalf("fetch at 5 with end 1: err = %v, want OFFSET_OUT_OF_RANGE", ferr)
	}
}
