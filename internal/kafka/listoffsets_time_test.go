package kafka_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// timedBatch builds one uncompressed batch whose records carry the given
// timestamps, in that order.
func timedBatch(tss ...int64) []byte {
	var records []byte
	maxTs := tss[0]
	for i, ts := range tss {
		rec := kmsg.NewRecord()
		rec.OffsetDelta = int32(i)
		rec.TimestampDelta64 = ts - tss[0]
		rec.Value = []byte{byte('a' + i)}
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		records = rec.AppendTo(records)
		maxTs = max(maxTs, ts)
	}
	rb := kmsg.NewRecordBatch()
	rb.Magic = 2
	rb.LastOffsetDelta = int32(len(tss) - 1)
	rb.FirstTimestamp, rb.MaxTimestamp = tss[0], maxTs
	rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = -1, -1, -1
	rb.NumRecords = int32(len(tss))
	rb.Records = records
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	fixCRC(raw)
	return raw
}

// ListOffsets by time answers with the first record at or after the target
// and that record's own timestamp, looking inside the batch (issue 7, defect
// 7): a target before every record used to get offset 0 with the batch's max
// timestamp.
func TestListOffsetsByTimeLooksInsideBatches(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "by-time"
	c.mustCreate(topic, 1, nil)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	// Offsets 0-3 in one batch, timestamps not monotonic; offsets 4-5 in another.
	if code, _ := c.produce(topic, 0, timedBatch(t0, t0+30, t0+10, t0+20)); code != 0 {
		t.Fatalf("produce: error %d", code)
	}
	if code, _ := c.produce(topic, 0, timedBatch(t0+5, t0+40)); code != 0 {
		t.Fatalf("produce: error %d", code)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct{ target, offset, ts int64 }{
		{t0 - 1000, 0, t0},
		{t0 + 1, 1, t0 + 30}, // the first record in offset order, not the closest timestamp
		{t0 + 31, 5, t0 + 40},
		{t0 + 41, 6, -1}, // nothing that late: the end offset, as Kafka clients see it
	} {
		listed, err := adm.ListOffsetsAfterMilli(ctx, tc.target, topic)
		if err != nil {
			t.Fatal(err)
		}
		lo, ok := listed.Lookup(topic, 0)
		if !ok || lo.Err != nil {
			t.Fatalf("ListOffsetsAfterMilli(%d): %+v", tc.target, lo)
		}
		if lo.Offset != tc.offset || lo.Timestamp != tc.ts {
			t.Errorf("ListOffsetsAfterMilli(t0%+d) = offset %d, timestamp t0%+d; want %d, t0%+d", tc.target-t0, lo.Offset, lo.Timestamp-t0, tc.offset, tc.ts-t0)
		}
	}
}
