package log

import (
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KeyValue is one record for NewBatch; a nil Value is a tombstone.
type KeyValue struct{ Key, Value []byte }

// NewBatch encodes recs as one uncompressed v2 record batch stamped ts, with
// no producer id: the form the broker's own coordinators write to their
// internal topics. Append assigns its base offset.
func NewBatch(recs []KeyValue, ts time.Time) []byte {
	var raw []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		body := rec.AppendTo(nil) // with Length 0, its varint is one byte
		rec.Length = int32(len(body) - 1)
		raw = rec.AppendTo(raw)
	}
	ms := ts.UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ms,
		MaxTimestamp:         ms,
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
