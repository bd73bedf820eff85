package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Errors returned by the log. Validation failures wrap ErrCorruptBatch with %w so
// callers can map them to CORRUPT_MESSAGE without string matching.
var (
	ErrCorruptBatch     = errors.New("log: corrupt record batch")
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	ErrClosed           = errors.New("log: closed")
)

// Byte layout of a v2 record batch header (all big-endian).
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// batchHeaderSize is the fixed part of a v2 batch, before the records.
	batchHeaderSize = 61
	// logOverhead is the part not counted by the length field (baseOffset + length).
	logOverhead = 12
	// minBatchLength is the smallest legal value of the length field.
	minBatchLength = batchHeaderSize - logOverhead
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded fixed header of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// LastOffset is the offset of the last record in the batch.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the number of bytes the batch occupies on disk.
func (h BatchHeader) Size() int64 { return int64(h.Length) + logOverhead }

// decodeHeader decodes the fixed header without any validation.
// REQUIRES: len(b) >= batchHeaderSize.
func decodeHeader(b []byte) BatchHeader {
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// checkHeader validates the header fields that do not need the record bytes.
// size is the number of bytes the caller has for this batch.
// A stored batch may hold fewer records than LastOffsetDelta+1: compaction
// removes records but keeps the batch's offset range (see compact.go).
func checkHeader(h BatchHeader, size int, stored bool) error {
	if h.Length < minBatchLength || int64(h.Length) != int64(size)-logOverhead {
		return fmt.Errorf("%w: length field %d does not match %d bytes", ErrCorruptBatch, h.Length, size)
	}
	if h.Magic != 2 {
		return fmt.Errorf("%w: magic %d, want 2", ErrCorruptBatch, h.Magic)
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 {
		return fmt.Errorf("%w: negative record count %d or last offset delta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	if stored && int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("%w: %d records but last offset delta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	if !stored && h.NumRecords > 0 && int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return fmt.Errorf("%w: %d records but last offset delta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	return nil
}

// ParseBatch decodes and validates b, a batch as a client produces it, which
// must be exactly one complete v2 batch: length field, magic, record count
// against last offset delta, the CRC32C over attributes..end, and then the
// records themselves (checkRecords: exactly NumRecords well-formed records
// numbered 0..n-1, decompressed if needed). Header and CRC failures wrap
// ErrCorruptBatch, record failures ErrInvalidRecord. The base offset and
// leader epoch are not covered by the CRC, so the log may overwrite them after
// validation.
func ParseBatch(b []byte) (BatchHeader, error) { return parseProduced(b, false) }

// ParseKeyedBatch is ParseBatch for a topic whose cleanup.policy includes
// compact: every record of a data batch must also have a key, as compaction
// needs (ErrInvalidRecord otherwise, Kafka's INVALID_RECORD).
func ParseKeyedBatch(b []byte) (BatchHeader, error) { return parseProduced(b, true) }

func parseProduced(b []byte, needKeys bool) (BatchHeader, error) {
	h, err := parseBatch(b, false)
	if err != nil {
		return h, err
	}
	return h, checkRecords(b, h, needKeys)
}

// parseStoredBatch is ParseBatch for a batch read back from a segment, which may
// have been compacted: it accepts fewer records than the offset range holds.
func parseStoredBatch(b []byte) (BatchHeader, error) { return parseBatch(b, true) }

func parseBatch(b []byte, stored bool) (BatchHeader, error) {
	if len(b) < batchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, need at least %d", ErrCorruptBatch, len(b), batchHeaderSize)
	}
	h := decodeHeader(b)
	if err := checkHeader(h, len(b), stored); err != nil {
		return h, err
	}
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, header says %08x", ErrCorruptBatch, got, h.CRC)
	}
	return h, nil
}
