package log

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// timeEntry records that the batch at base+rel raised the segment's max timestamp
// to ts. Entries are written only when the max grows (so ts strictly increases) and
// only alongside offset index entries, plus a final one when the segment is sealed,
// so the last entry always holds the segment's max timestamp.
type timeEntry struct {
	ts  int64
	rel uint32
}

const timeEntrySize = 12

func (e timeEntry) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
	return binary.BigEndian.AppendUint32(b, e.rel)
}

// timeScanStart returns the relative offset from which to scan for the first batch
// whose max timestamp is >= ts, and whether the scan must start at the segment's
// first batch. Every batch before entry i has a max timestamp < entries[i].ts, so
// the answer cannot precede the last entry whose ts is below the target.
func timeScanStart(entries []timeEntry, ts int64) (rel uint32, fromStart bool) {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].ts >= ts })
	if i == 0 {
		return 0, true
	}
	return entries[i-1].rel, false
}

// timeEntryTs returns the timestamp of the entry timeScanStart picked.
func timeEntryTs(entries []timeEntry, rel uint32, fromStart bool) int64 {
	if fromStart {
		return -1
	}
	i := sort.Search(len(entries), func(i int) bool { return entries[i].rel >= rel })
	if i == len(entries) {
		return -1
	}
	return entries[i].ts
}

// decodeTimeIndex parses and validates a .timeindex file; see decodeOffsetIndex.
func decodeTimeIndex(b []byte, maxRel int64) ([]timeEntry, error) {
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("time index size %d is not a multiple of %d", len(b), timeEntrySize)
	}
	entries := make([]timeEntry, 0, len(b)/timeEntrySize)
	for i := 0; i < len(b); i += timeEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(b[i:])), rel: binary.BigEndian.Uint32(b[i+8:])}
		if n := len(entries); n > 0 && (e.ts <= entries[n-1].ts || e.rel < entries[n-1].rel) {
			return nil, fmt.Errorf("time index entry %d (%d@%d) does not follow %d@%d", n, e.ts, e.rel, entries[n-1].ts, entries[n-1].rel)
		}
		if maxRel >= 0 && int64(e.rel) > maxRel {
			return nil, fmt.Errorf("time index entry %d has offset %d past the segment end", len(entries), e.rel)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func encodeTimeIndex(entries []timeEntry) []byte {
	b := make([]byte, 0, len(entries)*timeEntrySize)
	for _, e := range entries {
		b = e.appendTo(b)
	}
	return b
}
