package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// kv is one test record; a nil Value is a tombstone, a nil Key an unkeyed record.
type kv struct {
	Key, Value []byte
}

func put(k, v string) kv { return kv{[]byte(k), []byte(v)} }
func tomb(k string) kv   { return kv{Key: []byte(k)} }

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

// codecXerial is snappy in the Java client's xerial framing (attribute value 2).
const codecXerial = 100

func compressForTest(tb testing.TB, codec int, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	switch codec {
	case codecNone:
		return b
	case codecGzip:
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
	case codecSnappy:
		return s2.EncodeSnappy(nil, b)
	case codecXerial:
		res := append([]byte{}, xerialPrefix...)
		res = append(res, 0, 0, 0, 1, 0, 0, 0, 1)
		for len(b) > 0 { // small blocks, to exercise several
			n := min(len(b), 50)
			blk := s2.EncodeSnappy(nil, b[:n])
			res = binary.BigEndian.AppendUint32(res, uint32(len(blk)))
			res = append(res, blk...)
			b = b[n:]
		}
		return res
	case codecLz4:
		w := lz4.NewWriter(&out)
		w.Write(b)
		w.Close()
	case codecZstd:
		w, _ := zstd.NewWriter(&out)
		w.Write(b)
		w.Close()
	default:
		tb.Fatalf("codec %d", codec)
	}
	return out.Bytes()
}

// keyedBatch builds a v2 batch of recs with timestamps ts, ts+1, ..., records
// compressed with codec, and extra attribute bits (transactional, control).
func keyedBatch(tb testing.TB, recs []kv, ts int64, codec int, extraAttrs int16) []byte {
	tb.Helper()
	var raw []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, int64(i)) // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = appendVarBytes(body, r.Key)
		body = appendVarBytes(body, r.Value)
		body = binary.AppendVarint(body, 1) // one header
		body = appendVarBytes(body, []byte("h"))
		body = appendVarBytes(body, []byte("hv"))
		raw = binary.AppendVarint(raw, int64(len(body)))
		raw = append(raw, body...)
	}
	attrs := extraAttrs
	if codec == codecXerial {
		attrs |= codecSnappy
	} else {
		attrs |= int16(codec)
	}
	recBytes := compressForTest(tb, codec, raw)
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(recBytes))
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(batchHeaderSize+len(recBytes)-logOverhead))
	be.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(attrs))
	be.PutUint32(b[offLastOffsetDelta:], uint32(len(recs)-1))
	be.PutUint64(b[offFirstTimestamp:], uint64(ts))
	be.PutUint64(b[offMaxTimestamp:], uint64(ts+int64(len(recs))-1))
	pid := int64(-1)
	if extraAttrs&attrTransactional != 0 {
		pid = 7
	}
	be.PutUint64(b[offProducerID:], uint64(pid))
	be.PutUint16(b[offProducerEpoch:], 0xffff)
	be.PutUint32(b[offBaseSequence:], 0xffffffff)
	be.PutUint32(b[offNumRecords:], uint32(len(recs)))
	b = append(b, recBytes...)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := ParseBatch(b); err != nil {
		tb.Fatalf("test batch does not validate: %v", err)
	}
	return b
}

// storedRecord is a record read back from the log.
type storedRecord struct {
	Offset int64
	Key    string
	Value  []byte // nil for a tombstone
	Ts     int64
}

// readRecords reads every visible batch from StartOffset to the high watermark,
// checking batch CRCs, increasing offsets and that no batch overlaps the
// previous one, and decodes all records.
func readRecords(tb testing.TB, l *Log) (recs []storedRecord, batches int) {
	tb.Helper()
	next := l.StartOffset()
	for next < l.HighWatermark() {
		sl, err := l.Read(next, 1<<20, true)
		if err != nil {
			tb.Fatalf("Read(%d): %v", next, err)
		}
		b, err := sl.ReadAll()
		if err != nil || len(b) == 0 {
			tb.Fatalf("Read(%d): %d bytes, %v", next, len(b), err)
		}
		for len(b) > 0 {
			n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
			if n > len(b) || n < batchHeaderSize {
				tb.Fatalf("slice at %d holds a partial batch", next)
			}
			h, err := parseStoredBatch(b[:n])
			if err != nil {
				tb.Fatalf("batch at %d: %v", next, err)
			}
			if h.BaseOffset < next {
				tb.Fatalf("batch base %d below %d", h.BaseOffset, next)
			}
			err = forEachRecord(b[:n], h, func(r record) error {
				var v []byte
				if !r.NullValue {
					v = bytes.Clone(r.Value)
				}
				recs = append(recs, storedRecord{h.BaseOffset + int64(r.OffsetDelta), string(r.Key), v, recordTimestamp(h, r)})
				return nil
			})
			if err != nil {
				tb.Fatalf("records of batch at %d: %v", h.BaseOffset, err)
			}
			batches++
			next = h.LastOffset() + 1
			b = b[n:]
		}
	}
	return recs, batches
}

func compactConfig() Config {
	cfg := testConfig()
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 100
	cfg.CleanupPolicy = CleanupCompact
	return cfg
}

// model is what a compacted log must hold: every record appended, by offset.
type model struct {
	recs []storedRecord
}

func (m *model) append(tb testing.TB, l *Log, recs []kv, ts int64, codec int) {
	tb.Helper()
	res := mustAppend(tb, l, keyedBatch(tb, recs, ts, codec, 0))
	for i, r := range recs {
		var v []byte
		if r.Value != nil {
			v = r.Value
		}
		m.recs = append(m.recs, storedRecord{res.BaseOffset + int64(i), string(r.Key), v, ts + int64(i)})
	}
}

// expect returns the records a compaction covering [0, cleanEnd) at cutoff
// (Unix ms; tombstones below are dropped) must leave: in the cleaned range only
// the latest record per key, all records at or after cleanEnd.
func (m *model) expect(cleanEnd, cutoff int64) []storedRecord {
	latest := map[string]int64{}
	for _, r := range m.recs {
		if r.Offset < cleanEnd {
			latest[r.Key] = r.Offset
		}
	}
	var out []storedRecord
	for _, r := range m.recs {
		if r.Offset >= cleanEnd || (latest[r.Key] == r.Offset && (r.Value != nil || r.Ts >= cutoff)) {
			out = append(out, r)
		}
	}
	return out
}

func sameRecords(tb testing.TB, got, want []storedRecord) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d records, want %d\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || g.Key != w.Key || !bytes.Equal(g.Value, w.Value) || (g.Value == nil) != (w.Value == nil) || g.Ts != w.Ts {
			tb.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

// activeBase is the base offset of the active segment: what Compact cleans up to.
func activeBase(l *Log) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.segments[len(l.segments)-1].base
}

func segmentCount(l *Log) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segments)
}

func TestCompactKeepsLatestPerKey(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), compactConfig(), Options{Now: clock.Now})
	defer l.Close()
	var m model
	ts := clock.Now().UnixMilli()
	for i := range 120 {
		n := 1 + i%3
		var recs []kv
		for j := range n {
			recs = append(recs, put(fmt.Sprintf("k%d", (i*3+j)%17), fmt.Sprintf("v%d-%d", i, j)))
		}
		m.append(t, l, recs, ts+int64(i*10), codecNone)
	}
	if segmentCount(l) < 10 {
		t.Fatalf("only %d segments; the test wants many", segmentCount(l))
	}
	if !l.NeedsCompaction() {
		t.Fatal("NeedsCompaction false before the first pass")
	}
	sizeBefore, end, hw := l.Size(), activeBase(l), l.HighWatermark()
	st, err := l.Compact(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewritten == 0 || st.RecordsRemoved == 0 || st.Keys != 17 || l.Size() >= sizeBefore {
		t.Fatalf("stats %+v, size %d -> %d", st, sizeBefore, l.Size())
	}
	if l.HighWatermark() != hw || l.EndOffset() != hw || l.StartOffset() != 0 {
		t.Fatalf("offsets moved: hw %d end %d start %d", l.HighWatermark(), l.EndOffset(), l.StartOffset())
	}
	got, _ := readRecords(t, l)
	sameRecords(t, got, m.expect(end, 0))
	if l.NeedsCompaction() {
		t.Fatal("NeedsCompaction true right after a pass")
	}

	// A second pass finds nothing to do.
	st, err = l.Compact(clock.Now())
	if err != nil || st.Rewritten != 0 || st.RecordsRemoved != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}

	// Push every record into sealed segments: then each key appears exactly once,
	// with its latest value.
	for i := range 20 {
		m.append(t, l, []kv{put(fmt.Sprintf("filler%d", i), strings.Repeat("x", 150))}, ts+5000, codecNone)
	}
	if !l.NeedsCompaction() {
		t.Fatal("NeedsCompaction false after new segments rolled")
	}
	end = activeBase(l)
	if _, err := l.Compact(clock.Now()); err != nil {
		t.Fatal(err)
	}
	got, _ = readRecords(t, l)
	sameRecords(t, got, m.expect(end, 0))
	seen := map[string]bool{}
	for _, r := range got {
		if r.Offset < end && seen[r.Key] {
			t.Fatalf("key %s appears twice in the compacted range", r.Key)
		}
		seen[r.Key] = true
	}
	for k := range 17 {
		if !seen[fmt.Sprintf("k%d", k)] {
			t.Fatalf("key k%d lost", k)
		}
	}

	// Reads at every offset, including those compacted away, land on the next
	// surviving batch.
	for off := int64(0); off < l.HighWatermark(); off++ {
		sl, err := l.Read(off, 1, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		b, err := sl.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		h, err := parseStoredBatch(b)
		if err != nil || h.LastOffset() < off {
			t.Fatalf("Read(%d) gave batch %d..%d, %v", off, h.BaseOffset, h.LastOffset(), err)
		}
	}
}

func TestCompactTombstones(t *testing.T) {
	clock := newFakeClock()
	cfg := compactConfig()
	cfg.DeleteRetention = time.Hour
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	var m model
	ts := clock.Now().UnixMilli()
	m.append(t, l, []kv{put("a", "a1"), put("b", "b1")}, ts, codecNone)
	m.append(t, l, []kv{tomb("a")}, ts+10, codecNone)
	m.append(t, l, []kv{put("b", "b2"), tomb("c")}, ts+20, codecNone)
	for i := range 10 {
		m.append(t, l, []kv{put(fmt.Sprintf("f%d", i), strings.Repeat("x", 150))}, ts+30, codecNone)
	}
	end := activeBase(l)

	clock.Advance(30 * time.Minute)
	st, err := l.Compact(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readRecords(t, l)
	sameRecords(t, got, m.expect(end, 0)) // tombstones kept, a1 and b1 gone
	if st.TombstonesRemoved != 0 || st.RecordsRemoved != 2 {
		t.Fatalf("stats %+v", st)
	}
	if l.NeedsCompaction() {
		t.Fatal("NeedsCompaction before the tombstones expire")
	}
	clock.Advance(31 * time.Minute)
	if !l.NeedsCompaction() {
		t.Fatal("NeedsCompaction false once the tombstones expired")
	}
	st, err = l.Compact(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, _ = readRecords(t, l)
	sameRecords(t, got, m.expect(end, clock.Now().Add(-time.Hour).UnixMilli()))
	if st.TombstonesRemoved != 2 {
		t.Fatalf("stats %+v", st)
	}
	for _, r := range got {
		if r.Key == "a" || r.Key == "c" {
			t.Fatalf("expired tombstone of %s still there", r.Key)
		}
	}
	if l.NeedsCompaction() {
		t.Fatal("NeedsCompaction after everything expired was dropped")
	}
}

func TestCompactCompressedBatches(t *testing.T) {
	codecs := map[string]int{"gzip": codecGzip, "snappy": codecSnappy, "xerial": codecXerial, "lz4": codecLz4, "zstd": codecZstd}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			cfg := compactConfig()
			cfg.SegmentBytes = 600
			l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
			defer l.Close()
			var m model
			ts := clock.Now().UnixMilli()
			for i := range 40 {
				var recs []kv
				for j := range 5 {
					recs = append(recs, put(fmt.Sprintf("key-%d", (i*5+j)%13), fmt.Sprintf("value-%d-%d-%s", i, j, strings.Repeat("z", i%7))))
				}
				if i%9 == 4 {
					recs = append(recs, tomb(fmt.Sprintf("key-%d", i%13)))
				}
				m.append(t, l, recs, ts+int64(i*10), codec)
			}
			end := activeBase(l)
			st, err := l.Compact(clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if st.Rewritten == 0 {
				t.Fatalf("nothing rewritten: %+v", st)
			}
			got, _ := readRecords(t, l)
			sameRecords(t, got, m.expect(end, 0))

			// Batches left whole stay compressed and verbatim; rewritten ones are
			// uncompressed.
			var compressed, plain int
			for _, b := range readBatches2(t, l) {
				h := decodeHeader(b)
				if h.Attributes&attrCompressionMask != 0 {
					compressed++
					if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
						t.Fatalf("compressed batch at %d lost records but was not rewritten", h.BaseOffset)
					}
				} else {
					plain++
				}
			}
			if compressed == 0 || plain == 0 {
				t.Fatalf("%d compressed and %d plain batches; want both", compressed, plain)
			}
		})
	}
}

// readBatches2 returns the raw visible batches, allowing offset gaps.
func readBatches2(tb testing.TB, l *Log) [][]byte {
	tb.Helper()
	var out [][]byte
	next := l.StartOffset()
	for next < l.HighWatermark() {
		sl, err := l.Read(next, 1<<20, true)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := sl.ReadAll()
		if err != nil {
			tb.Fatal(err)
		}
		for len(b) > 0 {
			h := decodeHeader(b)
			out = append(out, b[:h.Size()])
			next = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return out
}

func TestCompactKeepsTransactionalAndControlBatches(t *testing.T) {
	l := openLog(t, t.TempDir(), compactConfig(), Options{})
	defer l.Close()
	txn := keyedBatch(t, []kv{put("a", "t1")}, 1000, codecNone, attrTransactional)
	ctrl := keyedBatch(t, []kv{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}}, 1000, codecNone, attrTransactional|attrControl)
	mustAppend(t, l, bytes.Clone(txn))
	mustAppend(t, l, bytes.Clone(ctrl))
	mustAppend(t, l, keyedBatch(t, []kv{put("a", "a1")}, 1000, codecNone, 0))
	mustAppend(t, l, keyedBatch(t, []kv{put("a", "a2")}, 1000, codecNone, 0))
	for i := range 6 {
		mustAppend(t, l, keyedBatch(t, []kv{put(fmt.Sprintf("f%d", i), strings.Repeat("x", 150))}, 1000, codecNone, 0))
	}
	if _, err := l.Compact(time.UnixMilli(2000)); err != nil {
		t.Fatal(err)
	}
	got, _ := readRecords(t, l)
	var vals []string
	for _, r := range got {
		if r.Offset < 4 {
			vals = append(vals, fmt.Sprintf("%d:%x", r.Offset, r.Value))
		}
	}
	// The transactional record and the marker survive; a1 does not.
	want := []string{"0:7431", "1:000000000000", "3:6132"}
	if fmt.Sprint(vals) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", vals, want)
	}
}

func TestCompactPolicyGatesRetentionAndCompaction(t *testing.T) {
	clock := newFakeClock()
	cfg := compactConfig()
	cfg.RetentionAge = time.Hour
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	for i := range 10 {
		mustAppend(t, l, keyedBatch(t, []kv{put("k", strings.Repeat("x", 150+i))}, clock.Now().UnixMilli(), codecNone, 0))
	}
	clock.Advance(2 * time.Hour)
	if n, err := l.EnforceRetention(); err != nil || n != 0 {
		t.Fatalf("retention under compact-only policy deleted %d segments, %v", n, err)
	}
	cfg.CleanupPolicy = CleanupDelete
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if l.NeedsCompaction() {
		t.Fatal("NeedsCompaction under delete policy")
	}
	if st, err := l.Compact(clock.Now()); err != nil || st.Rewritten != 0 {
		t.Fatalf("Compact under delete policy: %+v %v", st, err)
	}
	cfg.CleanupPolicy = CleanupCompactDelete
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if st, err := l.Compact(clock.Now()); err != nil || st.Rewritten == 0 {
		t.Fatalf("Compact under compact,delete: %+v %v", st, err)
	}
	if n, err := l.EnforceRetention(); err != nil || n == 0 {
		t.Fatalf("retention under compact,delete deleted %d segments, %v", n, err)
	}
	if err := (Config{CleanupPolicy: "bogus"}).Validate(); err == nil {
		t.Fatal("bogus cleanup policy validated")
	}
}

// fillCompactable writes overwrites of a few keys over many segments.
func fillCompactable(tb testing.TB, l *Log, m *model, n int, ts int64) {
	for i := range n {
		m.append(tb, l, []kv{put(fmt.Sprintf("k%d", i%5), fmt.Sprintf("v%d", i)), put(fmt.Sprintf("j%d", i%3), strings.Repeat("y", 40))}, ts+int64(i), i%5)
	}
}

func TestCompactRecovery(t *testing.T) {
	for _, how := range []string{"clean", "crash", "crash-no-recovery-point", "crash-no-indexes"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clock := newFakeClock()
			l := openLog(t, dir, compactConfig(), Options{Now: clock.Now})
			var m model
			fillCompactable(t, l, &m, 60, clock.Now().UnixMilli())
			end := activeBase(l)
			if _, err := l.Compact(clock.Now()); err != nil {
				t.Fatal(err)
			}
			want := m.expect(end, 0)
			switch how {
			case "clean":
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			default:
				crash(l)
			}
			switch how {
			case "crash-no-recovery-point":
				os.Remove(filepath.Join(dir, recoveryPointFile))
			case "crash-no-indexes":
				matches, _ := filepath.Glob(filepath.Join(dir, "*index"))
				for _, p := range matches {
					os.Remove(p)
				}
			}
			l = openLog(t, dir, compactConfig(), Options{Now: clock.Now})
			defer l.Close()
			got, _ := readRecords(t, l)
			sameRecords(t, got, want)
			if how == "crash-no-recovery-point" && l.scannedSegments.Load() != int64(segmentCount(l)) {
				t.Fatalf("scanned %d of %d segments", l.scannedSegments.Load(), segmentCount(l))
			}
			// The log goes on: append, compact again.
			fillCompactable(t, l, &m, 20, clock.Now().UnixMilli()+1000)
			end = activeBase(l)
			if _, err := l.Compact(clock.Now()); err != nil {
				t.Fatal(err)
			}
			got, _ = readRecords(t, l)
			sameRecords(t, got, m.expect(end, 0))
		})
	}
}

func TestCompactCrashMidSwap(t *testing.T) {
	for _, point := range []string{"written", "indexes-removed", "renamed"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clock := newFakeClock()
			l := openLog(t, dir, compactConfig(), Options{Now: clock.Now})
			var m model
			fillCompactable(t, l, &m, 60, clock.Now().UnixMilli())
			end := activeBase(l)
			before, _ := readRecords(t, l)

			l.compactCrashPoint = point
			_, err := l.Compact(clock.Now())
			if !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("Compact: %v", err)
			}
			crash(l)
			cleaned, _ := filepath.Glob(filepath.Join(dir, "*"+cleanedExt))
			if point != "renamed" && len(cleaned) != 1 {
				t.Fatalf("want one leftover .cleaned file, have %v", cleaned)
			}

			l = openLog(t, dir, compactConfig(), Options{Now: clock.Now})
			defer l.Close()
			if left, _ := filepath.Glob(filepath.Join(dir, "*"+cleanedExt)); len(left) != 0 {
				t.Fatalf("Open left %v", left)
			}
			got, _ := readRecords(t, l)
			if point == "renamed" {
				// The first segment was swapped in: its compaction happened.
				latest := map[string]bool{}
				for _, r := range got {
					latest[r.Key] = true
				}
				if len(got) >= len(before) || len(latest) != 8 {
					t.Fatalf("%d records (before %d), %d keys", len(got), len(before), len(latest))
				}
			} else {
				sameRecords(t, got, before)
			}
			// A full pass afterwards gives the compacted result.
			if _, err := l.Compact(clock.Now()); err != nil {
				t.Fatal(err)
			}
			got, _ = readRecords(t, l)
			sameRecords(t, got, m.expect(end, 0))
		})
	}
}

func TestCompactConcurrentReadsAndAppends(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), compactConfig(), Options{Now: clock.Now})
	defer l.Close()
	var m model
	fillCompactable(t, l, &m, 80, clock.Now().UnixMilli())

	// A Slice taken before compaction stays readable after the swap.
	old, err := l.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	oldBytes, _ := old.ReadAll()

	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				next := l.StartOffset()
				for hw := l.HighWatermark(); next < hw; {
					sl, err := l.Read(next, 300, true)
					if err != nil {
						errc <- fmt.Errorf("Read(%d): %w", next, err)
						return
					}
					b, err := sl.ReadAll()
					if err != nil || len(b) == 0 {
						errc <- fmt.Errorf("ReadAll at %d: %d bytes, %v", next, len(b), err)
						return
					}
					for len(b) > 0 {
						n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
						h, err := parseStoredBatch(b[:n])
						if err != nil || h.LastOffset() < next {
							errc <- fmt.Errorf("batch at %d: %v", next, err)
							return
						}
						next = h.LastOffset() + 1
						b = b[n:]
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // appends keep flowing
		defer wg.Done()
		for i := 0; !stop.Load() && i < 100; i++ {
			if _, err := l.Append(keyedBatch(t, []kv{put(fmt.Sprintf("k%d", i%5), "late")}, clock.Now().UnixMilli(), codecNone, 0)); err != nil {
				errc <- err
				return
			}
		}
	}()
	for range 5 {
		if _, err := l.Compact(clock.Now()); err != nil {
			t.Error(err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	again, _ := old.ReadAll()
	if !bytes.Equal(again, oldBytes) {
		t.Fatal("a Slice taken before compaction changed or became unreadable")
	}
}

// TestCompactRandomModel runs random puts, deletes, codecs and compactions and
// checks the log against a model after each pass: the latest value of every key
// (the "table" a compacted topic stands for) never changes, and in the range a
// pass covered every key appears at most once.
func TestCompactRandomModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 42))
			dir := t.TempDir()
			clock := newFakeClock()
			cfg := compactConfig()
			cfg.SegmentBytes = int64(300 + rng.IntN(1500))
			cfg.DeleteRetention = time.Duration(rng.IntN(100)) * time.Second
			l := openLog(t, dir, cfg, Options{Now: clock.Now})
			defer func() { l.Close() }()
			table := map[string]string{} // key -> latest value; deleted keys absent
			for step := range 100 {
				switch op := rng.IntN(20); {
				case op < 16:
					var recs []kv
					for range 1 + rng.IntN(4) {
						k := fmt.Sprintf("k%d", rng.IntN(25))
						if rng.IntN(6) == 0 {
							recs = append(recs, tomb(k))
							delete(table, k)
						} else {
							v := fmt.Sprintf("v%d-%s", step, strings.Repeat("p", rng.IntN(30)))
							recs = append(recs, put(k, v))
							table[k] = v
						}
					}
					codec := []int{codecNone, codecGzip, codecSnappy, codecXerial, codecLz4, codecZstd}[rng.IntN(6)]
					mustAppend(t, l, keyedBatch(t, recs, clock.Now().UnixMilli(), codec, 0))
					clock.Advance(time.Duration(rng.IntN(5000)) * time.Millisecond)
				case op < 19:
					end := activeBase(l)
					if _, err := l.Compact(clock.Now()); err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					got, _ := readRecords(t, l)
					seen := map[string]bool{}
					for _, r := range got {
						if r.Offset < end && seen[r.Key] {
							t.Fatalf("step %d: key %s twice below %d", step, r.Key, end)
						}
						seen[r.Key] = true
					}
					checkTable(t, l, table)
				default:
					crash(l)
					l = openLog(t, dir, cfg, Options{Now: clock.Now})
					checkTable(t, l, table)
				}
			}
		})
	}
}

func checkTable(tb testing.TB, l *Log, table map[string]string) {
	tb.Helper()
	got, _ := readRecords(tb, l)
	view := map[string]string{}
	for _, r := range got {
		if r.Value == nil {
			delete(view, r.Key)
		} else {
			view[r.Key] = string(r.Value)
		}
	}
	if fmt.Sprint(view) != fmt.Sprint(table) {
		tb.Fatalf("log reads as\n%v\nwant\n%v", view, table)
	}
}

// checkKeyed is ParseKeyedBatch without the header.
func checkKeyed(b []byte) error {
	_, err := ParseKeyedBatch(b)
	return err
}

func TestCheckKeyed(t *testing.T) {
	for _, codec := range []int{codecNone, codecGzip, codecSnappy, codecXerial, codecLz4, codecZstd} {
		if err := checkKeyed(keyedBatch(t, []kv{put("a", "1"), tomb("b"), {Key: []byte{}, Value: []byte("x")}}, 1, codec, 0)); err != nil {
			t.Fatalf("codec %d: keyed batch refused: %v", codec, err)
		}
		if err := checkKeyed(keyedBatch(t, []kv{put("a", "1"), {Value: []byte("x")}}, 1, codec, 0)); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("codec %d: unkeyed record: %v", codec, err)
		}
	}
	b := keyedBatch(t, []kv{put("a", "1")}, 1, codecNone, 0)
	b[len(b)-1] ^= 1
	if err := checkKeyed(b); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("corrupt batch: %v", err)
	}
	// A batch whose CRC is right but whose records are garbage: the client
	// sent exactly these bytes, so it is an invalid record, not corruption.
	b = keyedBatch(t, []kv{put("a", "1")}, 1, codecNone, 0)
	b[batchHeaderSize] = 0x7f // record length far past the end
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	if err := checkKeyed(b); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("garbage records: %v", err)
	}
}

func TestCompactDropsUnkeyedRecords(t *testing.T) {
	l := openLog(t, t.TempDir(), compactConfig(), Options{})
	defer l.Close()
	mustAppend(t, l, keyedBatch(t, []kv{{Value: []byte("nokey")}, put("a", "1")}, 1000, codecNone, 0))
	for i := range 6 {
		mustAppend(t, l, keyedBatch(t, []kv{put(fmt.Sprintf("f%d", i), strings.Repeat("x", 150))}, 1000, codecNone, 0))
	}
	if _, err := l.Compact(time.UnixMilli(2000)); err != nil {
		t.Fatal(err)
	}
	got, _ := readRecords(t, l)
	if got[0].Offset != 1 || got[0].Key != "a" {
		t.Fatalf("first record %+v; the unkeyed record should be gone", got[0])
	}
}

func FuzzCheckKeyed(f *testing.F) {
	f.Add(keyedBatch(f, []kv{put("a", "1")}, 1, codecNone, 0))
	f.Add(keyedBatch(f, []kv{put("a", "1"), tomb("b")}, 1, codecGzip, 0))
	f.Add(keyedBatch(f, []kv{put("a", "1")}, 1, codecXerial, 0))
	f.Add(keyedBatch(f, []kv{put("a", "1")}, 1, codecZstd, 0))
	f.Add(keyedBatch(f, []kv{put("a", "1"), put("b", "2")}, 1, codecLz4, 0))
	f.Add(keyedBatch(f, []kv{put("a", "1")}, 1, codecSnappy, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= batchHeaderSize {
			// Make the CRC right so the fuzzer reaches the record decoder.
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
		}
		err := checkKeyed(b)
		if err != nil && !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// Gaps between batches are compaction's and only legal in sealed segments: in
// the active segment recovery still cuts at the first batch that does not
// continue the previous one.
func TestRecoveryGapOnlyInSealedSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, compactConfig(), Options{})
	for i := range 8 {
		mustAppend(t, l, keyedBatch(t, []kv{put(fmt.Sprintf("k%d", i), strings.Repeat("x", 150))}, 1000, codecNone, 0))
	}
	mustAppend(t, l, keyedBatch(t, []kv{put("a", "1")}, 1000, codecNone, 0))
	last := mustAppend(t, l, keyedBatch(t, []kv{put("b", "2")}, 1000, codecNone, 0))
	active := l.segments[len(l.segments)-1]
	activePath, pos := active.path(logExt), active.size-int64(len(keyedBatch(t, []kv{put("b", "2")}, 1000, codecNone, 0)))
	crash(l)
	// Move the last batch's base offset forward: the CRC does not cover it.
	f, err := os.OpenFile(activePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(last.BaseOffset+3))
	if _, err := f.WriteAt(b[:], pos); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = openLog(t, dir, compactConfig(), Options{})
	defer l.Close()
	if l.EndOffset() != last.BaseOffset {
		t.Fatalf("end %d, want the gapped batch cut at %d", l.EndOffset(), last.BaseOffset)
	}
}
