package log

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Slice is a run of whole batches inside one segment file, ready to be sent with
// sendfile (io.Copy from an io.SectionReader over File). Size 0 means nothing to
// read. File is an *os.File with the OS file system (callers assert to it for
// sendfile); with another vfs.FS it is only a reader.
type Slice struct {
	File io.ReaderAt
	Pos  int64
	Size int64
	// Records counts the records of the slice's batches, as their headers
	// say (for metrics: the fetch path never decodes them).
	Records int64
}

// ReadAll reads the slice into memory, for tests and paths that cannot use sendfile.
func (s Slice) ReadAll() ([]byte, error) {
	if s.Size == 0 {
		return nil, nil
	}
	b := make([]byte, s.Size)
	n, err := s.File.ReadAt(b, s.Pos)
	if n == len(b) {
		return b, nil // ReadAt may report io.EOF along with the last byte
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// segmentFor returns the index of the segment holding offset: the last one whose
// base offset is <= offset.
// REQUIRES: mu held (read or write).
func (l *Log) segmentFor(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })
	return i - 1
}

// Read returns whole batches starting with the one that contains offset, all from
// one segment, none reaching the high watermark, at most maxBytes in total, except
// that with minOneBatch a first batch larger than maxBytes is returned alone.
// offset == HighWatermark gives an empty Slice; offsets below StartOffset or above
// HighWatermark give ErrOffsetOutOfRange.
//
// Only a snapshot is taken under the read lock; the header scan (61 bytes per
// batch, never the records) runs unlocked. That is safe because bytes below a
// segment's snapshot size never change, and deleted segments' files stay open for
// closeDelay.
func (l *Log) Read(offset int64, maxBytes int, minOneBatch bool) (Slice, error) {
	return l.ReadBelow(offset, maxBytes, minOneBatch, -1)
}

// ReadBelow is Read with a lower bound than the high watermark: batches at or
// past limit (a batch boundary, such as the last stable offset) are not
// returned; an offset in [limit, HighWatermark] gives an empty Slice. A
// negative limit means the high watermark.
func (l *Log) ReadBelow(offset int64, maxBytes int, minOneBatch bool, limit int64) (Slice, error) {
	return l.read(offset, maxBytes, minOneBatch, limit, false)
}

// ReadUnflushed is Read up to the log end offset rather than the high
// watermark: it may return batches not yet fsynced. A partition leader
// serves its followers with it, so that their fsyncs run alongside its
// own instead of after it; nothing read this way counts as committed
// until the leader's own high watermark covers it.
func (l *Log) ReadUnflushed(offset int64, maxBytes int, minOneBatch bool) (Slice, error) {
	return l.read(offset, maxBytes, minOneBatch, -1, true)
}

func (l *Log) read(offset int64, maxBytes int, minOneBatch bool, limit int64, unflushed bool) (Slice, error) {
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return Slice{}, ErrClosed
	}
	hw, start := l.hw.Load(), l.start.Load()
	if unflushed {
		hw = l.end.Load()
	}
	if offset < start || offset > hw {
		l.mu.RUnlock()
		return Slice{}, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, start, hw)
	}
	if limit < 0 || limit > hw {
		limit = hw
	}
	if offset >= limit {
		l.mu.RUnlock()
		return Slice{}, nil
	}
	s := l.segments[l.segmentFor(offset)]
	if d, ok := s.damagedAt(offset); ok {
		l.mu.RUnlock()
		return Slice{}, fmt.Errorf("%w: offset %d: %s", ErrDamaged, offset, d)
	}
	f, base := s.file, s.base
	// size is where this read stops: the data end, or the first damaged
	// bytes after the batch holding offset.
	want, indexPos := lookupEntry(s.index, offset-s.base)
	pos, size := s.readWindow(indexPos, s.size, offset)
	startPos, _ := s.readWindow(0, s.size, offset)
	l.mu.RUnlock()

	var buf [batchHeaderSize]byte
	var first int64
	var h BatchHeader
	var err error
	if pos == indexPos && want >= 0 {
		first, h, err = findBatchAt(f, pos, base+want, size, offset, &buf)
	} else {
		first, h, err = findBatch(f, pos, size, offset, &buf)
	}
	if err != nil && pos > startPos {
		// The index has no checksum: an entry damaged on disk in a way its
		// validation at open did not catch points at the wrong bytes. Walk
		// from the segment's start instead of failing or serving them.
		l.logger.Warn("index entry does not match the segment; reading from its start", "segment", base, "offset", offset, "err", err)
		first, h, err = findBatch(f, startPos, size, offset, &buf)
	}
	if err != nil {
		return Slice{}, fmt.Errorf("log: read offset %d: %w", offset, err)
	}
	end := first
	var records int64
	for {
		// h is the header of the batch at end.
		if h.BaseOffset >= limit {
			break
		}
		if end+h.Size()-first > int64(maxBytes) {
			if end == first && minOneBatch {
				end += h.Size()
				records += int64(h.NumRecords)
			}
			break
		}
		end += h.Size()
		records += int64(h.NumRecords)
		if end >= size {
			break
		}
		if h, err = readHeader(f, end, size, &buf); err != nil {
			// Serve the good batches before it; a read of the bad one
			// reports the error.
			break
		}
	}
	return Slice{File: f, Pos: first, Size: end - first, Records: records}, nil
}

// OffsetForTime returns the first record, in offset order, whose timestamp is
// >= ts: its offset and its own timestamp, as Kafka answers ListOffsets by time.
// Records of a batch need not be in timestamp order, so the batch holding the
// answer (the first whose max timestamp is >= ts, found through the time index
// and a header scan) is decoded, decompressed if need be: this is a rare
// request, and the fetch path never does it. A batch none of whose records
// reaches its header's max timestamp (the client's claim, which the log keeps)
// is passed over. Batches at or past the high watermark are not considered.
func (l *Log) OffsetForTime(ts int64) (offset int64, timestamp int64, found bool) {
	hw := l.hw.Load()
	for after := int64(-1); ; {
		l.mu.RLock()
		var s *segment
		for _, seg := range l.segments {
			if seg.base > after && seg.maxTs >= ts {
				s = seg
				break
			}
		}
		if s == nil || s.base >= hw {
			l.mu.RUnlock()
			return -1, -1, false
		}
		f, limit, base := s.file, s.size, s.base
		rel, fromStart := timeScanStart(s.times, ts)
		entryTs := timeEntryTs(s.times, rel, fromStart)
		pos, target := int64(0), base
		if !fromStart {
			pos, target = lookupPos(s.index, int64(rel)), base+int64(rel)
		}
		l.mu.RUnlock()
		if !fromStart && !timeEntryMatches(f, pos, limit, target, entryTs) {
			// The time index has no checksum: an entry that does not name
			// the batch that raised the max to its timestamp is damaged,
			// and trusting it could skip the answer. Scan the segment.
			l.logger.Warn("time index entry does not match the segment; scanning it from the start", "segment", base, "timestamp", ts)
			pos, target = 0, base
		}

		offset, timestamp, found, err := scanForTime(f, pos, limit, target, hw, ts)
		if err != nil {
			l.logger.Error("offset for time: scan failed", "segment", base, "err", err)
			return -1, -1, false
		}
		if found {
			return offset, timestamp, true
		}
		after = base
	}
}

// timeEntryMatches reports whether the batch holding offset target (found
// from pos) starts there and has max timestamp ts, as the time index entry
// naming it says.
func timeEntryMatches(f vfs.File, pos, limit, target, ts int64) bool {
	var buf [batchHeaderSize]byte
	_, h, err := findBatch(f, pos, limit, target, &buf)
	return err == nil && h.BaseOffset == target && h.MaxTimestamp == ts
}

// scanForTime scans the batches of a segment file from pos (a batch boundary
// at or before the batch holding offset target) up to limit and hw for the
// first record whose timestamp is >= ts.
func scanForTime(f vfs.File, pos, limit, target, hw, ts int64) (offset, timestamp int64, found bool, err error) {
	var buf [batchHeaderSize]byte
	pos, h, err := findBatch(f, pos, limit, target, &buf)
	for err == nil && h.BaseOffset < hw {
		if h.MaxTimestamp >= ts {
			if offset, timestamp, found, err = firstRecordAtOrAfter(f, pos, h, ts); err != nil || found {
				return offset, timestamp, found, err
			}
		}
		pos += h.Size()
		if pos >= limit {
			break
		}
		h, err = readHeader(f, pos, limit, &buf)
	}
	return -1, -1, false, err
}

// errStop ends a forEachRecord walk early.
var errStop = errors.New("stop")

// firstRecordAtOrAfter decodes the batch with header h at pos and returns the
// first of its records whose timestamp is >= ts.
func firstRecordAtOrAfter(f vfs.File, pos int64, h BatchHeader, ts int64) (offset, timestamp int64, found bool, err error) {
	batch := make([]byte, h.Size())
	if _, err := f.ReadAt(batch, pos); err != nil {
		return -1, -1, false, fmt.Errorf("read batch at %d: %w", h.BaseOffset, err)
	}
	if h, err = parseStoredBatch(batch); err != nil {
		return -1, -1, false, err
	}
	err = forEachRecord(batch, h, func(r record) error {
		if t := recordTimestamp(h, r); t >= ts {
			offset, timestamp, found = h.BaseOffset+int64(r.OffsetDelta), t, true
			return errStop
		}
		return nil
	})
	if err == errStop {
		err = nil
	}
	return offset, timestamp, found, err
}

// MaxTimestamp returns the largest batch max timestamp in the log and the base
// offset of the (first) batch holding it, or -1, -1 if the log has none.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	offset, timestamp = -1, -1
	for _, s := range l.segments {
		if s.maxTs > timestamp {
			offset, timestamp = s.maxTsOffset, s.maxTs
		}
	}
	return offset, timestamp
}

// lookupEntry returns the last index entry at or before rel: its relative
// offset and position, or -1, 0 if there is none.
func lookupEntry(entries []indexEntry, rel int64) (int64, int64) {
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].rel) > rel })
	if i == 0 {
		return -1, 0
	}
	return int64(entries[i-1].rel), int64(entries[i-1].pos)
}

// findBatchAt is findBatch from an index entry: the batch at pos must start
// at offset wantBase, or the entry is wrong.
func findBatchAt(f vfs.File, pos, wantBase, limit, offset int64, buf *[batchHeaderSize]byte) (int64, BatchHeader, error) {
	h, err := readHeader(f, pos, limit, buf)
	if err != nil {
		return 0, h, err
	}
	if h.BaseOffset != wantBase {
		return 0, h, fmt.Errorf("%w: %s: index says offset %d at position %d, the batch there starts at %d", ErrCorruptBatch, f.Name(), wantBase, pos, h.BaseOffset)
	}
	if h.LastOffset() >= offset {
		return pos, h, nil
	}
	return findBatch(f, pos+h.Size(), limit, offset, buf)
}
