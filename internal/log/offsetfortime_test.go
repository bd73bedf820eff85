package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
)

// OffsetForTime answers with the first record at or after the target, and
// that record's own timestamp, looking inside batches (issue 7, defect 7): it
// used to answer with the batch's base offset and max timestamp.
func TestOffsetForTimeLooksInsideBatches(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			l := openLog(t, t.TempDir(), testConfig(), Options{})
			defer l.Close()
			// Batch 0 at offsets 0-3: record timestamps 1000, 1030, 1010, 1020
			// (not monotonic). Batch 1 at 4-5: 1005, 1040.
			// Batch 2 at 6: a batch claiming max timestamp 5000 whose record is
			// at 1001: passed over.
			mustAppend(t, l, timedBatch(t, codec, 1000, 1030, 1010, 1020))
			mustAppend(t, l, timedBatch(t, codec, 1005, 1040))
			liar := timedBatch(t, codecNone, 1001)
			setTimestamps(liar, 1001, 5000)
			mustAppend(t, l, liar)
			mustAppend(t, l, timedBatch(t, codec, 6000))
			for _, tc := range []struct{ target, offset, ts int64 }{
				{0, 0, 1000},    // before everything: record 0 and its own timestamp
				{1000, 0, 1000}, // exact
				{1001, 1, 1030}, // first in offset order, not the smallest timestamp above
				{1011, 1, 1030},
				{1031, 5, 1040}, // batch 0's max is 1030: into batch 1, its second record
				{1041, 7, 6000}, // the liar has no record that late
				{6000, 7, 6000},
				{6001, -1, -1},
			} {
				off, ts, found := l.OffsetForTime(tc.target)
				if off != tc.offset || ts != tc.ts || found != (tc.offset >= 0) {
					t.Errorf("OffsetForTime(%d) = %d, %d, %v; want %d, %d", tc.target, off, ts, found, tc.offset, tc.ts)
				}
			}
		})
	}
}

// timedBatch builds a batch of records with the given timestamps, compressed
// with codec.
func timedBatch(tb testing.TB, codec int, tss ...int64) []byte {
	tb.Helper()
	var raw []byte
	maxTs := tss[0]
	for i, ts := range tss {
		body := []byte{0}
		body = binary.AppendVarint(body, ts-tss[0])
		body = binary.AppendVarint(body, int64(i))
		body = appendVarBytes(body, []byte("k"))
		body = appendVarBytes(body, []byte(fmt.Sprint("v", i)))
		body = binary.AppendVarint(body, 0)
		raw = append(binary.AppendVarint(raw, int64(len(body))), body...)
		maxTs = max(maxTs, ts)
	}
	b := rawBatch(attrFor(codec), int32(len(tss)-1), int32(len(tss)), compressForTest(tb, codec, raw))
	setTimestamps(b, tss[0], maxTs)
	return b
}

// setTimestamps sets a batch's first and max timestamps and its CRC.
func setTimestamps(b []byte, first, maxTs int64) {
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(first))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
