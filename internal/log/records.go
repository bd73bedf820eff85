package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// This file decodes the records inside a batch, for compaction, OffsetForTime
// and EachRecord. The fetch path never does (batches are sent verbatim); the
// produce path only checks them (validate.go).

// ErrInvalidRecord marks a batch with a good header and CRC whose records the
// log refuses: records that do not decompress, do not match the header's count
// or are malformed, or a record without a key in a compacted log (Kafka's
// INVALID_RECORD).
var ErrInvalidRecord = errors.New("log: invalid record")

// Batch attribute bits.
const (
	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// Compression codecs (attributes bits 0-2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLz4    = 3
	codecZstd   = 4
)

// MaxDecompressedBatch bounds the decompressed size of one batch's records, so
// a small compressed batch cannot make the broker work or allocate without
// limit. The produce path refuses batches over it (validate.go), so whatever
// the log holds, compaction and OffsetForTime can decode. It is a fixed cap,
// not a multiple of max.message.bytes: 256 times the default 1 MiB limit, far
// above what real data compresses by (text and JSON 3-10x), and since the
// produce check streams, a batch near the cap costs CPU (about a second of
// one core for gzip), not memory.
const MaxDecompressedBatch = 256 << 20

// xerialPrefix starts snappy data framed by the Java client (xerial snappy-java):
// the magic, then version and compatible version (4 bytes each), then blocks of
// a big-endian int32 length and a raw snappy block.
var xerialPrefix = []byte{130, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompressRecords returns the uncompressed records section of a batch.
func decompressRecords(codec int16, src []byte) ([]byte, error) {
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return readBounded(zr)
	case codecSnappy:
		if len(src) > 16 && bytes.HasPrefix(src, xerialPrefix) {
			return xerialDecodeTo(nil, src[16:])
		}
		return snappyBlock(nil, src)
	case codecLz4:
		zr := lz4Readers.Get().(*lz4.Reader)
		defer lz4Readers.Put(zr)
		zr.Reset(bytes.NewReader(src))
		return readBounded(zr)
	case codecZstd:
		zr, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		return zr.DecodeAll(src, nil)
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

// lz4 readers hold large block buffers: reuse them.
var lz4Readers = sync.Pool{New: func() any { return lz4.NewReader(nil) }}

// zstdDecoder is shared: DecodeAll is safe for concurrent use and the decoder
// is expensive to build.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(MaxDecompressedBatch))
})

func readBounded(r io.Reader) ([]byte, error) {
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(r, MaxDecompressedBatch+1))
	if err != nil {
		return nil, err
	}
	if n > MaxDecompressedBatch {
		return nil, fmt.Errorf("decompressed records exceed %d bytes", MaxDecompressedBatch)
	}
	return out.Bytes(), nil
}

// maxSnappyRatio bounds how much a snappy block can expand (64/3, rounded up).
const maxSnappyRatio = 22

// snappyBlock decodes one raw snappy block and appends it to dst.
func snappyBlock(dst, src []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > MaxDecompressedBatch-len(dst) {
		return nil, fmt.Errorf("decompressed records exceed %d bytes", MaxDecompressedBatch)
	}
	// The length is allocated before decoding, so a block may not claim more
	// than snappy can expand to (a 3-byte copy makes at most 64 bytes).
	if n > maxSnappyRatio*len(src) {
		return nil, fmt.Errorf("snappy block of %d bytes claims %d decoded bytes", len(src), n)
	}
	out := slices.Grow(dst, n)[:len(dst)+n]
	dec, err := s2.Decode(out[len(dst):], src)
	if err != nil {
		return nil, err
	}
	return out[:len(dst)+len(dec)], nil
}

// record is one decoded record; Key and Value alias the records buffer.
type record struct {
	Raw            []byte // the whole record, length prefix included
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte // nil for a null key
	Value          []byte
	NullValue      bool // a tombstone
}

var errBadRecord = errors.New("malformed record")

// nextRecord decodes the record at the start of b and returns it and the rest.
// Headers are skipped as part of the record's length, not decoded.
func nextRecord(b []byte) (record, []byte, error) {
	length, n := binary.Varint(b)
	if n <= 0 || length < 1 || length > int64(len(b)-n) {
		return record{}, nil, errBadRecord
	}
	end := n + int(length)
	r := record{Raw: b[:end]}
	body := b[n:end]
	body = body[1:] // attributes (unused)
	var ok bool
	var v int64
	if r.TimestampDelta, body, ok = varint(body); !ok {
		return record{}, nil, errBadRecord
	}
	if v, body, ok = varint(body); !ok || v < 0 || v > 1<<31-1 {
		return record{}, nil, errBadRecord
	}
	r.OffsetDelta = int32(v)
	if r.Key, body, ok = varbytes(body); !ok {
		return record{}, nil, errBadRecord
	}
	if r.Value, body, ok = varbytes(body); !ok {
		return record{}, nil, errBadRecord
	}
	r.NullValue = r.Value == nil
	if _, _, ok = varint(body); !ok { // header count; the headers themselves stay in Raw
		return record{}, nil, errBadRecord
	}
	return r, b[end:], nil
}

func varint(b []byte) (int64, []byte, bool) {
	if len(b) > 0 && b[0] < 0x80 {
		// One byte, the common case for deltas and short lengths (zigzag).
		x := int64(b[0])
		return x>>1 ^ -(x & 1), b[1:], true
	}
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

// varbytes decodes a varint length and that many bytes; length -1 is null (nil).
func varbytes(b []byte) ([]byte, []byte, bool) {
	n, b, ok := varint(b)
	if !ok || n < -1 || n > int64(len(b)) {
		return nil, nil, false
	}
	if n < 0 {
		return nil, b, true
	}
	return b[:n:n], b[n:], true
}

// forEachRecord decodes the records of a validated batch (decompressing them if
// needed) and calls fn for each, in order. It fails if the records section does
// not hold exactly NumRecords well-formed records with increasing offset deltas
// within LastOffsetDelta.
func forEachRecord(batch []byte, h BatchHeader, fn func(record) error) error {
	recs, err := decompressRecords(h.Attributes&attrCompressionMask, batch[batchHeaderSize:])
	if err != nil {
		return fmt.Errorf("%w: records of batch at %d: %v", ErrCorruptBatch, h.BaseOffset, err)
	}
	return eachRecordIn(recs, h, fn)
}

// eachRecordIn is forEachRecord over the batch's records section once
// decompressed.
func eachRecordIn(recs []byte, h BatchHeader, fn func(record) error) error {
	var err error
	prev := int64(-1)
	for i := int32(0); i < h.NumRecords; i++ {
		var r record
		if r, recs, err = nextRecord(recs); err != nil {
			return fmt.Errorf("%w: record %d of batch at %d: %v", ErrCorruptBatch, i, h.BaseOffset, err)
		}
		if int64(r.OffsetDelta) <= prev || r.OffsetDelta > h.LastOffsetDelta {
			return fmt.Errorf("%w: record %d of batch at %d has offset delta %d", ErrCorruptBatch, i, h.BaseOffset, r.OffsetDelta)
		}
		prev = int64(r.OffsetDelta)
		if err := fn(r); err != nil {
			return err
		}
	}
	if len(recs) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record of batch at %d", ErrCorruptBatch, len(recs), h.BaseOffset)
	}
	return nil
}

// recordTimestamp is the timestamp of record r of the batch with header h.
func recordTimestamp(h BatchHeader, r record) int64 {
	if h.Attributes&attrLogAppendTime != 0 {
		return h.MaxTimestamp
	}
	return h.FirstTimestamp + r.TimestampDelta
}
