package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"strings"
	"testing"
)

// testRecord encodes one record body with offset delta od, key k (nil: null).
func testRecord(od int64, k, v []byte) []byte {
	body := []byte{0}
	body = binary.AppendVarint(body, od) // timestamp delta
	body = binary.AppendVarint(body, od) // offset delta
	body = appendVarBytes(body, k)
	body = appendVarBytes(body, v)
	body = binary.AppendVarint(body, 1) // one header
	body = appendVarBytes(body, []byte("h"))
	body = appendVarBytes(body, nil) // null header value
	return body
}

// framed prefixes each body with its length varint.
func framed(bodies ...[]byte) []byte {
	var out []byte
	for _, b := range bodies {
		out = binary.AppendVarint(out, int64(len(b)))
		out = append(out, b...)
	}
	return out
}

// rawBatch builds a batch with the given header fields around records (sent as
// they are, so they may lie), with a right length and CRC.
func rawBatch(codec int16, lastOffsetDelta, numRecords int32, records []byte) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(records))
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(batchHeaderSize+len(records)-logOverhead))
	be.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(codec))
	be.PutUint32(b[offLastOffsetDelta:], uint32(lastOffsetDelta))
	be.PutUint64(b[offFirstTimestamp:], 1000)
	be.PutUint64(b[offMaxTimestamp:], 1000+uint64(max(lastOffsetDelta, 0)))
	be.PutUint64(b[offProducerID:], math.MaxUint64) // -1
	be.PutUint16(b[offProducerEpoch:], 0xffff)
	be.PutUint32(b[offBaseSequence:], 0xffffffff)
	be.PutUint32(b[offNumRecords:], uint32(numRecords))
	b = append(b, records...)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func attrFor(codec int) int16 {
	if codec == codecXerial {
		return codecSnappy
	}
	return int16(codec)
}

var allCodecs = []int{codecNone, codecGzip, codecSnappy, codecXerial, codecLz4, codecZstd}

func TestParseBatchChecksRecords(t *testing.T) {
	one := framed(testRecord(0, []byte("k"), []byte("v")))
	two := framed(testRecord(0, []byte("k"), []byte("v")), testRecord(1, nil, []byte("w")))
	for _, codec := range allCodecs {
		z := func(b []byte) []byte { return compressForTest(t, codec, b) }
		attr := attrFor(codec)
		if _, err := ParseBatch(rawBatch(attr, 1, 2, z(two))); err != nil {
			t.Fatalf("codec %d: valid batch refused: %v", codec, err)
		}
		big := framed(testRecord(0, nil, bytes.Repeat([]byte("x"), 3*streamBufferSize)), testRecord(1, nil, nil))
		if _, err := ParseBatch(rawBatch(attr, 1, 2, z(big))); err != nil {
			t.Fatalf("codec %d: batch with a record larger than the stream buffer refused: %v", codec, err)
		}
		for _, tc := range []struct {
			name  string
			batch []byte
		}{
			// The defect: a header claiming 2^31-1 records around one record.
			{"claims MaxInt32 records, holds one", rawBatch(attr, math.MaxInt32-1, math.MaxInt32, z(one))},
			{"claims two records, holds one", rawBatch(attr, 1, 2, z(one))},
			{"claims one record, holds two", rawBatch(attr, 0, 1, z(two))},
			{"bytes after the last record", rawBatch(attr, 1, 2, z(append(append([]byte(nil), two...), 0)))},
			{"offset deltas not 0..n-1", rawBatch(attr, 1, 2, z(framed(testRecord(0, nil, nil), testRecord(5, nil, nil))))},
			{"record longer than its fields", rawBatch(attr, 0, 1, z(framed(append(testRecord(0, nil, nil), 1))))},
			{"key longer than the record", rawBatch(attr, 0, 1, z(framed([]byte{0, 0, 0, 40, 'k'})))},
			{"negative header count", rawBatch(attr, 0, 1, z(framed([]byte{0, 0, 0, 1, 1, 1})))},
			{"null header key", rawBatch(attr, 0, 1, z(framed([]byte{0, 0, 0, 1, 1, 2, 1, 1})))},
		} {
			if _, err := ParseBatch(tc.batch); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("codec %d, %s: %v, want ErrInvalidRecord", codec, tc.name, err)
			}
		}
		if codec != codecNone {
			// Flagged compressed, but the bytes are the plain records (or noise).
			for name, body := range map[string][]byte{"plain records": two, "noise": []byte(strings.Repeat("not compressed ", 20))} {
				_, err := ParseBatch(rawBatch(attr, 1, 2, body))
				if !errors.Is(err, ErrInvalidRecord) {
					t.Errorf("codec %d flagged on %s: %v, want ErrInvalidRecord", codec, name, err)
				} else if name := codecName(attr&7) + ":"; strings.Count(err.Error(), name) != 1 {
					// Clients print this text: the codec is named once ("gzip: gzip: invalid header" was not).
					t.Errorf("codec %d flagged on noise: %q names %q other than once", codec, err, name)
				}
			}
			// A stream cut short (its checksum or trailer missing).
			c := z(two)
			if _, err := ParseBatch(rawBatch(attr, 1, 2, c[:len(c)-2])); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("codec %d truncated: %v, want ErrInvalidRecord", codec, err)
			}
		}
	}
	if _, err := ParseBatch(rawBatch(5, 1, 2, two)); !errors.Is(err, ErrCorruptBatch) {
		t.Errorf("codec 5: %v, want ErrCorruptBatch", err)
	}
}

func TestParseBatchBoundsDecompressedSize(t *testing.T) {
	defer func(n int64) { decompressLimit = n }(decompressLimit)
	decompressLimit = 64 << 10
	recs := framed(testRecord(0, nil, make([]byte, 70<<10)))
	for _, codec := range []int{codecGzip, codecLz4, codecZstd} {
		b := rawBatch(attrFor(codec), 0, 1, compressForTest(t, codec, recs))
		if _, err := ParseBatch(b); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("codec %d: %v, want ErrInvalidRecord over the limit", codec, err)
		}
	}
}

// A compressed section may not make the broker allocate far more than it
// sent: a zstd frame may not declare a window over maxZstdWindow, and a snappy
// block may not claim more than snappy can expand to.
func TestParseBatchBoundsDecoderMemory(t *testing.T) {
	recs := framed(testRecord(0, nil, []byte("v")))
	// A zstd frame by hand: magic, a descriptor with no content size (so the
	// window descriptor counts), a 16 MiB window, and one raw last block.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, (24 - 10) << 3}
	bh := uint32(len(recs))<<3 | 1
	frame = append(frame, byte(bh), byte(bh>>8), byte(bh>>16))
	frame = append(frame, recs...)
	if 1<<24 <= maxZstdWindow {
		t.Fatal("test frame's window is within the limit")
	}
	if _, err := ParseBatch(rawBatch(codecZstd, 0, 1, frame)); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("zstd frame with a 16 MiB window: %v, want ErrInvalidRecord", err)
	}
	frame[5] = (20 - 10) << 3 // the same with a 1 MiB window is fine
	if _, err := ParseBatch(rawBatch(codecZstd, 0, 1, frame)); err != nil {
		t.Errorf("zstd frame with a 1 MiB window: %v", err)
	}
	claim := append(binary.AppendUvarint(nil, 200<<20), 0, 'x') // "200 MiB follow", then a 1-byte literal
	if _, err := ParseBatch(rawBatch(codecSnappy, 0, 1, claim)); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "claims") {
		t.Errorf("snappy block claiming 200 MiB: %v, want ErrInvalidRecord", err)
	}
}

// A record length is a claim too: a compressed record claiming 200 MiB but
// holding a few bytes must not make the check allocate 200 MiB.
func TestParseBatchDoesNotAllocateClaimedLengths(t *testing.T) {
	recs := append(binary.AppendVarint(nil, 200<<20), "only a few bytes"...)
	for _, codec := range []int{codecGzip, codecLz4, codecZstd} {
		b := rawBatch(attrFor(codec), 0, 1, compressForTest(t, codec, recs))
		ParseBatch(b) // warm the pools
		// The least of a few runs: a GC between runs empties the pools, and
		// a fresh lz4 decoder alone is about 8 MiB (seen under -race on a loaded
		// machine); a 200 MiB claim honoured would show in every run.
		n := uint64(math.MaxUint64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ParseBatch(b)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("codec %d: %v, want ErrInvalidRecord", codec, err)
			}
			n = min(n, after.TotalAlloc-before.TotalAlloc)
		}
		if n > 8<<20 {
			t.Errorf("codec %d: checking a record that claims 200 MiB allocated %d bytes", codec, n)
		}
	}
}
