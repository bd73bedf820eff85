package log

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one record for NewRecordBatch: a key (nil for none), a
// value, headers, and its own timestamp in Unix milliseconds. DecodeRecords
// returns them too, with their offsets; Key, Value and header values then
// alias the decoded buffer.
type Record struct {
	Key, Value []byte
	Headers    []kmsg.Header
	Timestamp  int64
	Offset     int64 // set by DecodeRecords; NewRecordBatch numbers records 0..n-1
}

// NewRecordBatch encodes recs (at least one) as one uncompressed v2 record
// batch with no producer id, each record keeping its headers and
// timestamp: the form the broker writes for clients of other protocols
// (RocketMQ). Append assigns its base offset.
func NewRecordBatch(recs []Record) []byte {
	first, maxTS := recs[0].Timestamp, recs[0].Timestamp
	for _, r := range recs[1:] {
		first, maxTS = min(first, r.Timestamp), max(maxTS, r.Timestamp)
	}
	var raw []byte
	for i, r := range recs {
		rec := kmsg.Record{
			OffsetDelta: int32(i), TimestampDelta64: r.Timestamp - first,
			Key: r.Key, Value: r.Value, Headers: r.Headers,
		}
		body := rec.AppendTo(nil) // with Length 0, its varint is one byte
		rec.Length = int32(len(body) - 1)
		raw = rec.AppendTo(raw)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}
