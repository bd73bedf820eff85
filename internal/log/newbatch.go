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
	return newBatch(recs, ts, -1, -1, 0)
}

// NewTransactionalBatch is NewBatch for records written inside a
// transaction: the batch carries the producer id and epoch and the
// transactional attribute, and no sequence (the broker's coordinators
// write it, not an idempotent producer). The group coordinator writes
// TxnOffsetCommit's offsets this way; a later control batch of the same
// producer commits or aborts them.
func NewTransactionalBatch(recs []KeyValue, ts time.Time, producerID int64, epoch int16) []byte {
	return newBatch(recs, ts, producerID, epoch, attrTransactional)
}

// NewControlBatch encodes a transaction marker for a producer: one record
// whose key is version 0 and the control type (ControlCommit or
// ControlAbort) and whose value is version 0 and the coordinator epoch.
func NewControlBatch(producerID int64, epoch int16, commit bool, coordinatorEpoch int32, ts time.Time) []byte {
	typ := uint16(ControlAbort)
	if commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), typ)
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	return newBatch([]KeyValue{{Key: key, Value: value}}, ts, producerID, epoch, attrTransactional|attrControl)
}

// IsControl reports whether the batch is a transaction marker.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction
// (data or marker).
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

func newBatch(recs []KeyValue, ts time.Time, producerID int64, epoch int16, attrs int16) []byte {
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
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ms,
		MaxTimestamp:         ms,
		ProducerID:           producerID,
		ProducerEpoch:        epoch,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}
