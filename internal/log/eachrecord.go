package log

import (
	"encoding/binary"
	"fmt"
)

// EachRecord calls fn with the key and value of each record in data, whole
// batches read from the log at offset from, and returns the offset after the
// last batch. It reads back the internal topics the coordinators write with
// NewBatch: control batches are skipped and a compressed batch is an error.
// Errors start with "at <offset>: ", the offset of the batch that failed;
// errors from fn are wrapped with it.
func EachRecord(from int64, data []byte, fn func(h BatchHeader, key, value []byte) error) (next int64, err error) {
	next = from
	for len(data) > 0 {
		if len(data) < logOverhead {
			return next, fmt.Errorf("at %d: truncated batch", next)
		}
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[offLength:])))
		if size < batchHeaderSize || size > len(data) {
			return next, fmt.Errorf("at %d: bad batch length", next)
		}
		batch := data[:size]
		data = data[size:]
		h := decodeHeader(batch)
		if h.Attributes&attrControl == 0 {
			if h.Attributes&attrCompressionMask != codecNone {
				return next, fmt.Errorf("at %d: compressed batch; the coordinator writes none", h.BaseOffset)
			}
			err := forEachRecord(batch, h, func(r record) error { return fn(h, r.Key, r.Value) })
			if err != nil {
				return next, fmt.Errorf("at %d: %w", h.BaseOffset, err)
			}
		}
		next = h.LastOffset() + 1
	}
	return next, nil
}
