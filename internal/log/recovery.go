package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// recover loads the segments in l.dir. After a clean shutdown (marker present) the
// indexes are trusted and only the tail of the active segment's headers is read to
// find the end offset. Otherwise every segment from the one holding the recovery
// point onwards is re-validated batch by batch (length bounds, CRC, contiguous
// offsets in the active segment, increasing ones in sealed segments, which may
// have been compacted); the first bad or torn batch and everything after it is
// cut off.
// Segments that fail the contiguity check and their successors are deleted. Index
// files that are missing or malformed are rebuilt from the batches.
// REQUIRES: exclusive access (called from Open).
func (l *Log) recover() error {
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	clean := false
	if _, err := os.Stat(filepath.Join(l.dir, cleanMarkerFile)); err == nil {
		clean = true
		// Remove the marker before anything else, so that a crash from here on
		// forces a scan on the next open.
		if err := os.Remove(filepath.Join(l.dir, cleanMarkerFile)); err != nil {
			return err
		}
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	firstScan := len(bases)
	if !clean {
		rp := readRecoveryPoint(l.dir)
		firstScan = sort.Search(len(bases), func(i int) bool { return bases[i] > rp }) - 1
		firstScan = max(firstScan, 0)
		if len(bases) > 0 {
			l.logger.Info("log was not closed cleanly; validating tail", "recoveryPoint", rp, "segments", len(bases)-firstScan)
		}
	}

	for _, base := range bases {
		s, err := openSegment(l.dir, base)
		if err != nil {
			return err
		}
		l.segments = append(l.segments, s)
	}
	if len(l.segments) == 0 {
		// A new log: one fsync of the directory makes its files durable;
		// there is nothing to recover, so no recovery point is written
		// (a missing one means "scan from the start").
		s, err := createSegment(l.dir, 0, l.now())
		if err != nil {
			return err
		}
		l.segments = []*segment{s}
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}

	scanned := false
	for i := 0; i < len(l.segments); i++ {
		s := l.segments[i]
		if i > 0 && s.base != l.segments[i-1].next {
			l.logger.Warn("segment does not continue the previous one; deleting it and all later segments",
				"segment", s.base, "expected", l.segments[i-1].next)
			if err := l.dropSegmentsFrom(i); err != nil {
				return err
			}
			scanned = true
			break
		}
		active := i == len(l.segments)-1
		nextBase := int64(-1)
		if !active {
			nextBase = l.segments[i+1].base
		}
		if i < firstScan {
			if err := l.loadSegment(s, nextBase); err == nil {
				continue
			} else if errors.Is(err, errZeroTail) {
				// Close trims preallocated space, so a clean segment should
				// not have it; be defensive and scan.
				l.logger.Info("segment has a zero-filled tail; scanning it", "segment", s.base, "err", err)
			} else {
				l.logger.Warn("segment index unusable; rebuilding it", "segment", s.base, "err", err)
			}
		}
		if err := l.scanSegment(s, active); err != nil {
			return err
		}
		scanned = true
	}

	active := l.segments[len(l.segments)-1]
	if active.indexFile == nil {
		if err := active.openIndexFiles(false); err != nil {
			return err
		}
	}
	if (scanned || !clean) && len(bases) > 0 {
		// Make the recovered state durable so the end offset can be published as
		// synced, and record it as the new recovery point.
		if err := active.file.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", active.file.Name(), err)
		}
		if err := syncDir(l.dir); err != nil {
			return err
		}
		if err := writeRecoveryPoint(l.dir, active.next); err != nil {
			return err
		}
	}

	var size int64
	for _, s := range l.segments {
		size += s.size
	}
	l.size.Store(size)
	l.start.Store(l.segments[0].base)
	l.end.Store(active.next)
	l.hw.Store(active.next)
	l.syncedEnd = active.next
	return nil
}

// listSegments returns the base offsets of the .log files in the directory, and
// deletes leftovers: temp files and index files without a .log.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var orphans []string
	var bases []int64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, cleanedExt) {
			// Unfinished atomic writes and cleaned segment copies that were
			// never renamed into place (the rename is compaction's commit).
			orphans = append(orphans, name)
			continue
		}
		ext := filepath.Ext(name)
		base, ok := parseBase(strings.TrimSuffix(name, ext))
		if !ok || e.IsDir() {
			continue
		}
		switch ext {
		case logExt:
			logs[base] = true
			bases = append(bases, base)
		case indexExt, timeIndexExt:
			orphans = append(orphans, name)
		}
	}
	for _, name := range orphans {
		if base, ok := parseBase(strings.TrimSuffix(name, filepath.Ext(name))); ok && logs[base] {
			continue
		}
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
			return nil, err
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

func parseBase(stem string) (int64, bool) {
	if len(stem) != 20 {
		return 0, false
	}
	for _, c := range stem {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(stem, 10, 64)
	return n, err == nil
}

// loadSegment restores s from its index files without reading its batches, except
// for the headers after the last index entry of the active segment (nextBase < 0),
// which give its end offset. An error means the files cannot be trusted.
//
// The data end is taken to be the file size: sealed segments are trimmed to it
// before they are fsynced, and Close trims the active one before it writes the
// clean-shutdown marker. A zero-filled tail (preallocated space) in the active
// segment gives errZeroTail, and the caller scans the segment.
func (l *Log) loadSegment(s *segment, nextBase int64) error {
	s.size = s.alloc
	maxRel := int64(-1)
	if nextBase >= 0 {
		if s.size == 0 || nextBase <= s.base {
			return errors.New("empty or misplaced segment before the active one")
		}
		maxRel = nextBase - s.base - 1
	}
	b, err := os.ReadFile(s.path(indexExt))
	if err != nil {
		return err
	}
	if s.index, err = decodeOffsetIndex(b, s.size, maxRel); err != nil {
		return err
	}
	if b, err = os.ReadFile(s.path(timeIndexExt)); err != nil {
		return err
	}
	if s.times, err = decodeTimeIndex(b, maxRel); err != nil {
		return err
	}
	if s.size > 0 && (len(s.index) == 0 || s.index[0].pos != 0) {
		return errors.New("index has no entry for the first batch")
	}
	if n := len(s.times); n > 0 {
		s.maxTs, s.maxTsOffset = s.times[n-1].ts, s.base+int64(s.times[n-1].rel)
	}
	lastPos := int64(0)
	if n := len(s.index); n > 0 {
		lastPos = int64(s.index[n-1].pos)
	}
	s.bytesSinceIndex = s.size - lastPos
	s.rollBase = l.loadedRollBase(s)
	if nextBase >= 0 {
		s.next = nextBase
		return nil
	}
	// Active segment: walk the headers after the last index entry.
	s.next = s.base
	if len(s.index) > 0 {
		s.next = s.base + int64(s.index[len(s.index)-1].rel)
	}
	var buf [batchHeaderSize]byte
	for pos := lastPos; pos < s.size; {
		h, err := readHeader(s.file, pos, s.size, &buf)
		if err != nil {
			if zero, zerr := zeroTail(s.file, pos, s.size); zerr == nil && zero {
				return fmt.Errorf("%w at position %d", errZeroTail, pos)
			}
			return err
		}
		if h.BaseOffset != s.next {
			return fmt.Errorf("batch at position %d has base offset %d, want %d", pos, h.BaseOffset, s.next)
		}
		if h.MaxTimestamp > s.maxTs {
			s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.BaseOffset
		}
		s.next = h.LastOffset() + 1
		pos += h.Size()
	}
	if err := s.openIndexFiles(false); err != nil {
		return err
	}
	s.indexWritten, s.timeWritten = len(s.index), len(s.times)
	return nil
}

// loadedRollBase picks the time SegmentAge is measured from for a segment found on
// disk: its first timestamp (as Kafka does), but never in the future, so that a
// restart does not reset the age of the active segment.
func (l *Log) loadedRollBase(s *segment) time.Time {
	now := l.now()
	if len(s.times) > 0 {
		if t := time.UnixMilli(s.times[0].ts); t.Before(now) {
			return t
		}
	}
	return now
}

// scanSegment re-validates every batch of s, truncates the file at the first bad
// or torn one and rebuilds both indexes from the good batches. I/O errors are
// returned, never mistaken for corruption.
func (l *Log) scanSegment(s *segment, active bool) error {
	l.scannedSegments.Add(1)
	if err := s.closeIndexFiles(); err != nil {
		return err
	}
	st, err := s.file.Stat()
	if err != nil {
		return err
	}
	fileSize := st.Size()
	s.index, s.times = nil, nil
	s.size, s.next, s.maxTs, s.maxTsOffset, s.bytesSinceIndex = 0, s.base, -1, -1, 0

	r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, fileSize), 1<<20)
	var buf []byte
	var reason string
	pos := int64(0)
	for pos < fileSize {
		if fileSize-pos < logOverhead {
			reason = "torn batch header"
			break
		}
		buf = grow(buf, logOverhead)
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("log: recover %s: %w", s.file.Name(), err)
		}
		length := int64(int32(binary.BigEndian.Uint32(buf[offLength:])))
		if length < minBatchLength {
			reason = fmt.Sprintf("batch length %d below minimum", length)
			break
		}
		if pos+logOverhead+length > fileSize {
			reason = fmt.Sprintf("torn batch: length %d but %d bytes left", length, fileSize-pos-logOverhead)
			break
		}
		buf = grow(buf, logOverhead+int(length))
		if _, err := io.ReadFull(r, buf[logOverhead:]); err != nil {
			return fmt.Errorf("log: recover %s: %w", s.file.Name(), err)
		}
		h, err := parseStoredBatch(buf)
		if err != nil {
			reason = err.Error()
			break
		}
		// Offsets must be contiguous in the active segment. A sealed segment
		// may have been compacted, which drops emptied batches (but never the
		// last one, so the segment still ends where the next one starts):
		// there offsets must only increase. See "Compaction" in doc.go.
		if h.BaseOffset != s.next && (active || h.BaseOffset < s.next) {
			reason = fmt.Sprintf("base offset %d, want %d", h.BaseOffset, s.next)
			break
		}
		s.track(h, pos, l.cfg.IndexIntervalBytes)
		pos += h.Size()
	}
	if pos < fileSize {
		zero, err := zeroTail(s.file, pos, fileSize)
		if err != nil {
			return fmt.Errorf("log: recover %s: %w", s.file.Name(), err)
		}
		if zero {
			// Preallocated space past the data (see "Preallocation" in
			// doc.go): the normal end of an active segment after a crash.
			l.logger.Info("truncating zero-filled tail of log segment",
				"segment", s.base, "position", pos, "bytesRemoved", fileSize-pos)
		} else {
			l.logger.Warn("truncating log segment at first invalid batch",
				"segment", s.base, "position", pos, "bytesRemoved", fileSize-pos, "reason", reason)
		}
		if err := s.file.Truncate(pos); err != nil {
			return fmt.Errorf("log: truncate %s: %w", s.file.Name(), err)
		}
	}
	s.alloc = pos
	s.rollBase = l.loadedRollBase(s)
	if err := s.rewriteIndexes(true); err != nil {
		return err
	}
	if !active {
		// Sealed segments are trusted on the next open, so make them durable now.
		for _, f := range []*os.File{s.file, s.indexFile, s.timeFile} {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("log: fsync %s: %w", f.Name(), err)
			}
		}
		return s.closeIndexFiles()
	}
	return nil
}

// errZeroTail reports that the data of a segment is followed by zeros: space
// preallocated with fallocate that was not trimmed (a crash, or a failed trim).
var errZeroTail = errors.New("zero-filled tail after the last batch")

// zeroTail reports whether bytes [pos, end) of f are all zero.
func zeroTail(f *os.File, pos, end int64) (bool, error) {
	buf := make([]byte, min(end-pos, 64<<10))
	for pos < end {
		n := min(int64(len(buf)), end-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return false, err
		}
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		pos += n
	}
	return true, nil
}

// dropSegmentsFrom deletes segments i.. from disk and from l.segments.
func (l *Log) dropSegmentsFrom(i int) error {
	for _, s := range l.segments[i:] {
		s.file.Close()
		s.closeIndexFiles()
		for _, ext := range []string{logExt, indexExt, timeIndexExt} {
			if err := os.Remove(s.path(ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	l.segments = l.segments[:i]
	return nil
}

// grow returns buf resized to n bytes, keeping its first bytes; it reuses the
// backing array when it is big enough.
func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(buf)))
	copy(nb, buf)
	return nb
}
