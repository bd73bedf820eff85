package log

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DecodeRecords checks one whole batch (framing and CRC, as a stored batch:
// compacted batches may hold fewer records than their offset range) and
// decodes its records, headers included, decompressing if needed. It is
// for the few paths that must look inside records (the scheduler and the
// produce path of topics with message.scheduling.enable), never for fetch.
// A control batch yields no records.
func DecodeRecords(batch []byte) (BatchHeader, []Record, error) {
	h, err := parseStoredBatch(batch)
	if err != nil {
		return h, nil, err
	}
	if h.Attributes&attrControl != 0 {
		return h, nil, nil
	}
	out := make([]Record, 0, h.NumRecords)
	err = forEachRecord(batch, h, func(r record) error {
		var kr kmsg.Record
		if err := kr.ReadFrom(r.Raw); err != nil {
			return fmt.Errorf("%w: record at delta %d: %v", ErrInvalidRecord, r.OffsetDelta, err)
		}
		out = append(out, Record{
			Offset:    h.BaseOffset + int64(r.OffsetDelta),
			Timestamp: recordTimestamp(h, r),
			Key:       r.Key,
			Value:     r.Value,
			Headers:   kr.Headers,
		})
		return nil
	})
	return h, out, err
}

// EachBatch calls fn with every whole batch in data (as read from the log),
// stopping at a truncated tail or a bad length field with an error wrapping
// ErrCorruptBatch.
func EachBatch(data []byte, fn func(batch []byte) error) error {
	for len(data) > 0 {
		if len(data) < logOverhead {
			return fmt.Errorf("%w: truncated batch", ErrCorruptBatch)
		}
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[offLength:])))
		if size < batchHeaderSize || size > len(data) {
			return fmt.Errorf("%w: bad batch length", ErrCorruptBatch)
		}
		if err := fn(data[:size]); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}
