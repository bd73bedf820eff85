package rocketmq

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/msgindex"
)

// BenchmarkIndexRecord is what the message index costs per record as the
// broker runs it: decode stored batches of 100 RocketMQ-shaped records
// (KEYS, TAGS, UNIQ_KEY), extract the keys, add them to an index.
func BenchmarkIndexRecord(b *testing.B) {
	var data []byte
	for i := 0; i < 100; i++ {
		recs := make([]log.Record, 100)
		for j := range recs {
			n := strconv.Itoa(i*100 + j)
			recs[j] = log.Record{Key: []byte("order-" + n), Value: make([]byte, 200), Timestamp: int64(i), Headers: []kmsg.Header{
				{Key: "TAGS", Value: []byte("created")}, {Key: "UNIQ_KEY", Value: []byte("C0A80001000000000000" + n)}}}
		}
		batch := log.NewRecordBatch(recs)
		data = append(data, batch...)
	}
	b.ResetTimer()
	b.ReportAllocs()
	done := 0
	for done < b.N {
		b.StopTimer()
		x, err := msgindex.Open(b.TempDir(), msgindex.Options{})
		if err != nil {
			b.Fatal(err)
		}
		next := int64(0)
		b.StartTimer()
		err = decodeStored(data, func(r msgindex.Record) error {
			r.Offset = next // the test batches all start at 0
			next++
			return x.Add(r.Offset, r.Timestamp, msgindex.Keys(r))
		})
		if err != nil {
			b.Fatal(err)
		}
		x.Flush()
		b.StopTimer()
		x.Close()
		b.StartTimer()
		done += 10000
	}
}
