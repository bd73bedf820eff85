package log

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// This file checks the records section of a batch a client produced, before
// it is acknowledged. The CRC only proves that the bytes are the ones the
// client sent, not that they hold what the header says. A batch whose
// NumRecords (and LastOffsetDelta) claims more records than it holds would
// reserve offsets nobody can read and, past 2^31 of them, wrap the segment
// index's 32-bit relative offsets; a batch flagged compressed whose bytes do
// not decompress would fail every consumer at that offset forever. So:
//
//   - the records section must hold exactly NumRecords records, each framed by
//     its length varint, together filling the section to its last byte;
//   - record i must have offset delta i (so offsets are base..base+NumRecords-1,
//     matching LastOffsetDelta, which checkHeader already ties to NumRecords);
//   - each record's fields (attributes, timestamp and offset deltas, key,
//     value, headers) must fit its length exactly;
//   - a compressed section must decompress, as a whole (checksums and trailers
//     included), to at most MaxDecompressedBatch bytes.
//
// Nothing is copied or allocated per record: an uncompressed section is
// walked in place; a compressed one is streamed through a pooled decoder and
// a pooled bufio.Reader, each record looked at through Peek (records larger
// than the reader's buffer are read into a scratch buffer reused within the
// batch). The fetch path never calls this: batches are stored and served
// verbatim.
//
// Kafka's LogValidator makes the same checks (its record iterator fails on
// "Incorrect declared batch size" and the count must match the offset range)
// and answers INVALID_RECORD; it rewrites compressed batches whose inner
// offsets are not 0..n-1, which we cannot do without re-encoding, so we
// refuse them (every v2 client writes 0..n-1).

// streamBufferSize is the bufio.Reader size for compressed sections: records
// up to this size are checked in the reader's buffer without a copy.
const streamBufferSize = 64 << 10

// maxZstdWindow bounds the window a zstd frame may declare. The streaming
// decoder allocates the whole window up front, so without a bound a frame of
// a few bytes could make the broker allocate hundreds of MiB. 8 MiB is the
// window the zstd format asks every decoder to support; franz-go and
// librdkafka compress whole batches (window <= batch size) and the Java
// client's streaming compressor stays within it up to level 19.
const maxZstdWindow = 8 << 20

// decompressLimit is MaxDecompressedBatch, lowered by tests.
var decompressLimit int64 = MaxDecompressedBatch

// errTooLarge is returned by boundedReader past decompressLimit.
var errTooLarge = errors.New("records decompress to more than the limit (MaxDecompressedBatch)")

// checkRecords validates the records section of a produced batch whose header
// h has been checked (checkHeader, CRC). With needKeys every record of a data
// batch must have a key. Failures wrap ErrInvalidRecord, except an unknown
// compression codec, which wraps ErrCorruptBatch.
func checkRecords(batch []byte, h BatchHeader, needKeys bool) error {
	if h.Attributes&attrControl != 0 {
		needKeys = false // markers always carry a key; compaction keeps them verbatim
	}
	src := batch[batchHeaderSize:]
	var err error
	switch codec := h.Attributes & attrCompressionMask; codec {
	case codecNone:
		err = walkRecords(src, h.NumRecords, needKeys)
	case codecSnappy:
		err = checkSnappy(src, h.NumRecords, needKeys)
	case codecGzip, codecLz4, codecZstd:
		err = checkStream(codec, src, h.NumRecords, needKeys)
	default:
		return fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, codec)
	}
	if err != nil && !errors.Is(err, ErrInvalidRecord) {
		err = fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return err
}

// walkRecords checks that recs holds exactly n well-formed records.
func walkRecords(recs []byte, n int32, needKeys bool) error {
	for i := int32(0); i < n; i++ {
		length, k := binary.Varint(recs)
		if k <= 0 || length < 1 || length > int64(len(recs)-k) {
			return fmt.Errorf("record %d of %d: length does not fit the %d bytes left (the header claims more records than the batch holds)", i, n, len(recs))
		}
		end := k + int(length)
		if err := checkRecord(recs[k:end], i, needKeys); err != nil {
			return err
		}
		recs = recs[end:]
	}
	if len(recs) != 0 {
		return fmt.Errorf("%d bytes after record %d; the header says %d records", len(recs), n, n)
	}
	return nil
}

// checkRecord checks one record's body (after its length varint) against
// the v2 record layout: attributes, timestamp delta, offset delta (must be
// i), key, value, headers, and nothing after them.
func checkRecord(body []byte, i int32, needKey bool) error {
	bad := func(what string) error { return fmt.Errorf("record %d: malformed %s", i, what) }
	if len(body) < 1 {
		return bad("attributes")
	}
	b := body[1:]
	var ok bool
	var v int64
	if _, b, ok = varint(b); !ok {
		return bad("timestamp delta")
	}
	if v, b, ok = varint(b); !ok {
		return bad("offset delta")
	}
	if v != int64(i) {
		return fmt.Errorf("record %d has offset delta %d; produced batches number their records 0..n-1", i, v)
	}
	var key []byte
	if key, b, ok = varbytes(b); !ok {
		return bad("key")
	}
	if needKey && key == nil {
		return fmt.Errorf("%w: record %d has no key; compacted topics need a key on every record", ErrInvalidRecord, i)
	}
	if _, b, ok = varbytes(b); !ok {
		return bad("value")
	}
	if v, b, ok = varint(b); !ok || v < 0 || v > int64(len(b)) {
		return bad("header count")
	}
	for j := int64(0); j < v; j++ {
		var hk []byte
		if hk, b, ok = varbytes(b); !ok || hk == nil {
			return bad("header key")
		}
		if _, b, ok = varbytes(b); !ok {
			return bad("header value")
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("record %d: %d bytes after its headers", i, len(b))
	}
	return nil
}

// checkSnappy decodes a snappy section (raw block or xerial framing) into a
// pooled buffer and walks it. Snappy has no streaming form here, but the
// decoded length is known before decoding and a block expands at most about
// 21 times, so the buffer stays within MaxDecompressedBatch.
func checkSnappy(src []byte, n int32, needKeys bool) error {
	bp := snappyBufs.Get().(*[]byte)
	defer snappyBufs.Put(bp)
	var err error
	buf := (*bp)[:0]
	if len(src) > 16 && bytes.HasPrefix(src, xerialPrefix) {
		buf, err = xerialDecodeTo(buf, src[16:])
	} else {
		buf, err = snappyBlock(buf, src)
	}
	if cap(buf) <= 4<<20 {
		*bp = buf[:0] // keep moderate buffers for the next batch
	}
	if err != nil {
		return fmt.Errorf("snappy: %v", err)
	}
	return walkRecords(buf, n, needKeys)
}

var snappyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// checkStream streams a gzip, lz4 or zstd section through a pooled decoder
// and checks its records without holding the decompressed bytes.
func checkStream(codec int16, src []byte, n int32, needKeys bool) error {
	st := streams.Get().(*streamState)
	defer st.release()
	r, err := st.decoder(codec, src)
	if err == nil {
		st.bounded = boundedReader{r: r, left: decompressLimit}
		st.br.Reset(&st.bounded)
		err = walkRecordStream(st.br, n, needKeys)
	}
	if err != nil {
		// The gzip and lz4 decoders name themselves already; say the codec once.
		if name := codecName(codec); !strings.HasPrefix(err.Error(), name+":") {
			return fmt.Errorf("%s: %w", name, err)
		}
		return err
	}
	return nil
}

// streamState is what checkStream needs, pooled as one: the source reader, a
// decoder per codec (made on first use), the bound and the bufio.Reader.
type streamState struct {
	src     bytes.Reader
	bounded boundedReader
	br      *bufio.Reader
	gz      *gzip.Reader
	lz      *lz4.Reader
	zs      *zstd.Decoder
}

var streams = sync.Pool{New: func() any {
	return &streamState{br: bufio.NewReaderSize(nil, streamBufferSize)}
}}

// decoder returns a reader of codec's decompressed form of src.
func (st *streamState) decoder(codec int16, src []byte) (io.Reader, error) {
	st.src.Reset(src)
	switch codec {
	case codecGzip:
		if st.gz == nil {
			st.gz = new(gzip.Reader)
		}
		if err := st.gz.Reset(&st.src); err != nil {
			return nil, err
		}
		return st.gz, nil
	case codecLz4:
		if st.lz == nil {
			st.lz = lz4.NewReader(nil)
		}
		st.lz.Reset(&st.src)
		return st.lz, nil
	case codecZstd:
		if st.zs == nil {
			// Concurrency 1 decodes synchronously (no goroutines), so a
			// decoder the pool drops leaks nothing.
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(MaxDecompressedBatch))
			if err != nil {
				return nil, err
			}
			st.zs = d
		}
		if err := st.zs.Reset(&st.src); err != nil {
			return nil, err
		}
		return st.zs, nil
	}
	return nil, fmt.Errorf("codec %d does not stream", codec)
}

// release drops the references to the batch and returns st to the pool.
func (st *streamState) release() {
	st.src.Reset(nil)
	st.bounded = boundedReader{}
	st.br.Reset(nil)
	streams.Put(st)
}

// walkRecordStream is walkRecords over a decompressing reader; it also reads
// to the end of the stream so that trailing checksums are verified.
func walkRecordStream(br *bufio.Reader, n int32, needKeys bool) error {
	var scratch []byte
	for i := int32(0); i < n; i++ {
		length, err := binary.ReadVarint(br)
		if err != nil {
			return streamErr(err, i, n)
		}
		if length < 1 || length > MaxDecompressedBatch {
			return fmt.Errorf("record %d of %d: bad length %d", i, n, length)
		}
		var body []byte
		if length <= int64(br.Size()) {
			if body, err = br.Peek(int(length)); err != nil {
				return streamErr(err, i, n)
			}
		} else {
			// Grown as the bytes arrive, never to the length the record
			// claims: a few compressed bytes may claim hundreds of MiB.
			sb := bytes.NewBuffer(scratch[:0])
			if _, err = io.CopyN(sb, br, length); err != nil {
				return streamErr(err, i, n)
			}
			scratch = sb.Bytes()
			body = scratch
		}
		if err := checkRecord(body, i, needKeys); err != nil {
			return err
		}
		if length <= int64(br.Size()) {
			br.Discard(int(length)) // cannot fail: Peek returned these bytes
		}
	}
	switch _, err := br.ReadByte(); {
	case err == nil:
		return fmt.Errorf("bytes after record %d; the header says %d records", n, n)
	case err != io.EOF:
		return err
	}
	return nil
}

// streamErr describes a read error while records were still expected.
func streamErr(err error, i, n int32) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("records end inside record %d of %d (the header claims more records than the batch holds)", i, n)
	}
	return err
}

// boundedReader fails once more than left bytes have been read from r.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

func codecName(codec int16) string {
	return [...]string{"none", "gzip", "snappy", "lz4", "zstd"}[codec]
}

// xerialDecodeTo decodes xerial-framed snappy (after its 16-byte header) and
// appends the result to dst.
func xerialDecodeTo(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, errors.New("malformed xerial snappy framing")
		}
		n := int64(binary.BigEndian.Uint32(src))
		src = src[4:]
		if n > int64(len(src)) {
			return dst, errors.New("malformed xerial snappy framing")
		}
		var err error
		if dst, err = snappyBlock(dst, src[:n]); err != nil {
			return dst, err
		}
		src = src[n:]
	}
	return dst, nil
}
