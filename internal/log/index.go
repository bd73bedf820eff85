package log

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// indexEntry maps an offset (relative to the segment base) to the file position of
// the batch that starts at that offset. The offset index is sparse: one entry every
// IndexIntervalBytes, so a lookup lands at or before the wanted batch and the reader
// scans batch headers from there.
type indexEntry struct {
	rel uint32 // batch base offset - segment base offset
	pos uint32 // byte position of the batch in the .log file
}

const indexEntrySize = 8

func (e indexEntry) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, e.rel)
	return binary.BigEndian.AppendUint32(b, e.pos)
}

// lookupPos returns the position of the last indexed batch whose base offset is
// <= base+rel, or 0 if there is none.
func lookupPos(entries []indexEntry, rel int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(entries[i-1].pos)
}

// decodeOffsetIndex parses and validates an .index file. Anything odd (torn size,
// entries going backwards, positions past the segment, offsets past its end) is
// reported so the caller rebuilds the index from the batches instead of trusting it.
// maxRel < 0 means the segment end is not known yet.
func decodeOffsetIndex(b []byte, segSize int64, maxRel int64) ([]indexEntry, error) {
	if len(b)%indexEntrySize != 0 {
		return nil, fmt.Errorf("index size %d is not a multiple of %d", len(b), indexEntrySize)
	}
	entries := make([]indexEntry, 0, len(b)/indexEntrySize)
	for i := 0; i < len(b); i += indexEntrySize {
		e := indexEntry{rel: binary.BigEndian.Uint32(b[i:]), pos: binary.BigEndian.Uint32(b[i+4:])}
		if n := len(entries); n > 0 && (e.rel <= entries[n-1].rel || e.pos <= entries[n-1].pos) {
			return nil, fmt.Errorf("index entry %d (%d@%d) does not follow %d@%d", n, e.rel, e.pos, entries[n-1].rel, entries[n-1].pos)
		}
		if int64(e.pos)+batchHeaderSize > segSize {
			return nil, fmt.Errorf("index entry %d points at %d, past segment size %d", len(entries), e.pos, segSize)
		}
		if maxRel >= 0 && int64(e.rel) > maxRel {
			return nil, fmt.Errorf("index entry %d has offset %d past the segment end", len(entries), e.rel)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func encodeOffsetIndex(entries []indexEntry) []byte {
	b := make([]byte, 0, len(entries)*indexEntrySize)
	for _, e := range entries {
		b = e.appendTo(b)
	}
	return b
}
