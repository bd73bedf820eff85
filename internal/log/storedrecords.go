package log

import (
	"encoding/binary"
	"fmt"
)

// StoredRecord is one data record of a stored batch with everything a
// protocol front that converts records needs (the RocketMQ front builds
// its own message format from them). Its byte slices alias the batch or
// its decompressed copy: they are valid only during the callback that
// receives the record.
type StoredRecord struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	headers   []byte // header count and headers, validated
}

// EachHeader calls fn with each header of the record in order (a null
// value is nil) until fn returns false.
func (r StoredRecord) EachHeader(fn func(key, value []byte) bool) {
	n, b, _ := varint(r.headers)
	for ; n > 0; n-- {
		var k, v []byte
		k, b, _ = varbytes(b)
		v, b, _ = varbytes(b)
		if !fn(k, v) {
			return
		}
	}
}

// Transactional reports whether the batch was written in a producer
// transaction (its records may belong to an aborted one).
func (h BatchHeader) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// EachStoredRecord walks whole stored batches, as Read returns them, and
// calls fn with each record of every data batch (control batches are
// skipped), decompressing compressed batches. Every batch's CRC and every
// record's framing, headers included, are checked before fn sees it; a
// damaged batch stops the walk with an error wrapping ErrCorruptBatch.
// next is the offset after the last batch walked.
func EachStoredRecord(data []byte, fn func(h BatchHeader, r StoredRecord) error) (next int64, err error) {
	return EachStoredRecordFrom(data, 0, nil, fn)
}

// RecordsCache keeps the decompressed records sections of compressed
// batches for readers that walk the same batch again and again (a
// RocketMQ consumer pulls 32 records at a time from batches Kafka
// producers fill with thousands). A batch is known by its base offset and
// CRC, so one cache serves one partition. Implementations must be safe
// for concurrent use; cached bytes are only read.
type RecordsCache interface {
	Get(baseOffset int64, crc uint32) ([]byte, bool)
	Put(baseOffset int64, crc uint32, records []byte)
}

// EachStoredRecordFrom is EachStoredRecord for the records at offset from
// and after: those before it are passed over (a batch wholly before it is
// not even decompressed), as a reader resuming inside a batch needs. It
// takes decompressed records sections from cache (nil: none) and puts the
// ones it decompresses there.
func EachStoredRecordFrom(data []byte, from int64, cache RecordsCache, fn func(h BatchHeader, r StoredRecord) error) (next int64, err error) {
	next = -1
	for len(data) > 0 {
		if len(data) < logOverhead {
			return next, fmt.Errorf("%w: truncated batch after %d", ErrCorruptBatch, next)
		}
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[offLength:])))
		if size < batchHeaderSize || size > len(data) {
			return next, fmt.Errorf("%w: bad batch length after %d", ErrCorruptBatch, next)
		}
		batch := data[:size]
		data = data[size:]
		h, err := parseStoredBatch(batch)
		if err != nil {
			return next, fmt.Errorf("at %d: %w", h.BaseOffset, err)
		}
		if h.Attributes&attrControl == 0 && h.LastOffset() >= from {
			recs, err := batchRecords(batch, h, cache)
			if err != nil {
				return next, err
			}
			err = eachRecordIn(recs, h, func(r record) error {
				if h.BaseOffset+int64(r.OffsetDelta) < from {
					return nil
				}
				headers, err := recordHeaders(r.Raw)
				if err != nil {
					return fmt.Errorf("%w: record at %d: %v", ErrCorruptBatch, h.BaseOffset+int64(r.OffsetDelta), err)
				}
				return fn(h, StoredRecord{
					Offset:    h.BaseOffset + int64(r.OffsetDelta),
					Timestamp: recordTimestamp(h, r),
					Key:       r.Key,
					Value:     r.Value,
					headers:   headers,
				})
			})
			if err != nil {
				return next, err
			}
		}
		next = h.LastOffset() + 1
	}
	return next, nil
}

// batchRecords returns a batch's records section, decompressed: from the
// cache when it holds it.
func batchRecords(batch []byte, h BatchHeader, cache RecordsCache) ([]byte, error) {
	codec := h.Attributes & attrCompressionMask
	if codec == codecNone {
		return batch[batchHeaderSize:], nil
	}
	if cache != nil {
		if recs, ok := cache.Get(h.BaseOffset, h.CRC); ok {
			return recs, nil
		}
	}
	recs, err := decompressRecords(codec, batch[batchHeaderSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: records of batch at %d: %v", ErrCorruptBatch, h.BaseOffset, err)
	}
	if cache != nil {
		cache.Put(h.BaseOffset, h.CRC, recs)
	}
	return recs, nil
}

// recordHeaders returns the headers section of an encoded record (its
// count, then each key and value) after checking its framing.
func recordHeaders(raw []byte) ([]byte, error) {
	_, n := binary.Varint(raw) // the length, checked by nextRecord
	b := raw[n+1:]             // and the attributes byte
	var ok bool
	for range 2 { // timestamp and offset deltas
		if _, b, ok = varint(b); !ok {
			return nil, errBadRecord
		}
	}
	for range 2 { // key and value
		if _, b, ok = varbytes(b); !ok {
			return nil, errBadRecord
		}
	}
	headers := b
	count, b, ok := varint(b)
	if !ok || count < 0 || count > int64(len(b)) {
		return nil, fmt.Errorf("bad header count")
	}
	for ; count > 0; count-- {
		var k []byte
		if k, b, ok = varbytes(b); !ok || k == nil {
			return nil, fmt.Errorf("bad header key")
		}
		if _, b, ok = varbytes(b); !ok {
			return nil, fmt.Errorf("bad header value")
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the headers", len(b))
	}
	return headers, nil
}
