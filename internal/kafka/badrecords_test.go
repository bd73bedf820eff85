package kafka_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Batches whose CRC is right but whose records are not what the header says
// are refused with INVALID_RECORD before they reach the log (issue 7, defects
// 2 and 5): a header claiming 2^31-1 records around one record used to be
// stored, and three of them wrapped the segment index so that fetches skipped
// records; a batch flagged gzip holding plain bytes was stored and failed
// every consumer at its offset.
func TestProduceBatchesThatLie(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "liars"
	c.mustCreate(topic, 1, nil)
	if code, off := c.produce(topic, 0, makeBatch(noProducer, "good-0")); code != 0 || off != 0 {
		t.Fatalf("good produce: error %d, offset %d", code, off)
	}
	edit := func(src []byte, f func([]byte)) []byte {
		out := append([]byte(nil), src...)
		f(out)
		fixCRC(out)
		return out
	}
	counts := func(lastOffsetDelta, numRecords int32) func([]byte) {
		return func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], uint32(lastOffsetDelta))
			binary.BigEndian.PutUint32(b[57:], uint32(numRecords))
		}
	}
	codec := func(c byte) func([]byte) { return func(b []byte) { b[22] |= c } }
	one, two := makeBatch(noProducer, "one"), makeBatch(noProducer, "a", "b")
	noise := edit(one, func(b []byte) {})
	noise = append(noise[:61], strings.Repeat("noise ", 30)...)
	binary.BigEndian.PutUint32(noise[8:], uint32(len(noise)-12))
	for _, tc := range []struct {
		name    string
		records []byte
	}{
		{"claims MaxInt32 records, holds one", edit(one, counts(math.MaxInt32-1, math.MaxInt32))},
		{"the same again", edit(one, counts(math.MaxInt32-1, math.MaxInt32))},
		{"and a third time", edit(one, counts(math.MaxInt32-1, math.MaxInt32))},
		{"claims two records, holds one", edit(one, counts(1, 2))},
		{"claims one record, holds two", edit(two, counts(0, 1))},
		{"flagged gzip, records plain", edit(two, codec(1))},
		{"flagged gzip, noise", edit(noise, codec(1))},
		{"flagged snappy, records plain", edit(two, codec(2))},
		{"flagged lz4, records plain", edit(two, codec(3))},
		{"flagged zstd, records plain", edit(two, codec(4))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := c.produce(topic, 0, tc.records); code != kerr.InvalidRecord.Code {
				t.Errorf("error code %d (%v), want INVALID_RECORD", code, kerr.ErrorForCode(code))
			}
			if lcode, hw := c.latestOffset(topic, 0); lcode != 0 || hw != 1 {
				t.Errorf("latest offset %d (error %d) after a refused batch, want 1", hw, lcode)
			}
		})
	}
	if code, off := c.produce(topic, 0, makeBatch(noProducer, "good-1", "good-2")); code != 0 || off != 1 {
		t.Fatalf("good produce after bad ones: error %d, offset %d", code, off)
	}
	expectLog(t, b.addr, topic, 0, "good-0", "good-1", "good-2")
}

// Every codec a client may use still gets through the record checks.
func TestProduceEachCodec(t *testing.T) {
	b := startBroker(t)
	for name, codec := range map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	} {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			b.dial(t).mustCreate(topic, 1, nil)
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DefaultProduceTopic(topic),
				kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var values []string
			for i := range 50 {
				v := fmt.Sprintf("%s-%d-%s", name, i, strings.Repeat("compress me ", i))
				values = append(values, v)
				cl.Produce(ctx, &kgo.Record{Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(v)}}}, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			expectLog(t, b.addr, topic, 0, values...)
		})
	}
}
