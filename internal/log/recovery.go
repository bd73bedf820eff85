package log

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// recover loads the segments in l.dir. See "Durability and recovery" in doc.go.
//
// Sealed segments (all but the last) are never cut or deleted: they were
// fsynced when they were rolled. Their indexes are trusted when they validate,
// else rebuilt from the batches; segments past the recovery point are
// re-validated batch by batch. A bad batch in a sealed segment is quarantined:
// recorded as a damaged range, logged at ERROR, skipped; its bytes stay.
//
// The last (active) segment after a clean shutdown is restored from its
// indexes plus a header walk after the last entry. After a crash its prefix up
// to the recovery point's position (fsynced, trusted) is restored the same way
// (or by a header walk if the index files disagree) and the bytes after it are
// re-validated with CRCs; the first bad batch after the recovery point is the
// torn tail and is cut off (logged at INFO for preallocated zeros, WARN
// otherwise). A bad batch before it is damage, as in a sealed segment.
// REQUIRES: exclusive access (called from Open).
func (l *Log) recover() error {
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	clean := false
	if _, err := l.fs.Stat(filepath.Join(l.dir, cleanMarkerFile)); err == nil {
		clean = true
		// Remove the marker before anything else, so that a crash from here on
		// forces a scan on the next open.
		if err := l.fs.Remove(filepath.Join(l.dir, cleanMarkerFile)); err != nil {
			return err
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}
	rp, rpErr := readRecoveryPoint(l.fs, l.dir)
	if rpErr != nil {
		what := "validating every segment"
		if clean {
			what = "not needed after a clean shutdown; rewriting it"
		}
		l.logger.Warn("recovery point unreadable; "+what, "err", rpErr)
	}
	known, err := readDamaged(l.fs, l.dir)
	if err != nil {
		l.logger.Error("damaged-ranges file unreadable; keeping the ranges that parsed", "err", err)
	}
	firstScan := len(bases)
	l.epochTailFrom = math.MaxInt64 // a clean log's checkpoint is complete
	if !clean {
		l.epochTailFrom = rp.offset // 0 when the recovery point is missing or unreadable
		firstScan = sort.Search(len(bases), func(i int) bool { return bases[i] > rp.offset }) - 1
		firstScan = max(firstScan, 0)
		if len(bases) > 0 {
			l.logger.Info("log was not closed cleanly; validating tail", "recoveryPoint", rp.offset, "segments", len(bases)-firstScan)
		}
	}

	for _, base := range bases {
		s, err := openSegment(l.fs, l.dir, base)
		if err != nil {
			return err
		}
		for _, d := range known {
			if d.File == baseName(s.path(logExt)) {
				s.damaged = append(s.damaged, d)
			}
		}
		l.segments = append(l.segments, s)
	}
	if len(l.segments) == 0 {
		// A new log: one fsync of the directory makes its files durable;
		// there is nothing to recover, so no recovery point is written
		// (a missing one means "scan from the start").
		s, err := createSegment(l.fs, l.dir, 0, l.now())
		if err != nil {
			return err
		}
		l.segments = []*segment{s}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
	}

	scanned := false
	for i := 0; i < len(l.segments); i++ {
		s := l.segments[i]
		if i < len(l.segments)-1 {
			nextBase := l.segments[i+1].base
			if i < firstScan {
				err := l.loadSegment(s, nextBase)
				if err == nil {
					continue
				}
				l.logger.Warn("segment index unusable; rebuilding it from the segment", "segment", s.base, "err", err)
			}
			if err := l.scanSealed(s, nextBase); err != nil {
				return err
			}
			scanned = true
			continue
		}
		if clean {
			err := l.loadSegment(s, -1)
			if err == nil {
				continue
			}
			if errors.Is(err, errZeroTail) {
				// Close trims preallocated space, so a clean segment should
				// not have it; be defensive and scan.
				l.logger.Info("segment has a zero-filled tail; scanning it", "segment", s.base, "err", err)
			} else {
				l.logger.Warn("segment index unusable; rebuilding it from the segment", "segment", s.base, "err", err)
			}
		}
		if err := l.scanActive(s, clean, rp); err != nil {
			return err
		}
		scanned = true
		break // scanActive may have started a new, empty active segment
	}
	if err := l.noteDamaged(known); err != nil {
		return err
	}

	active := l.segments[len(l.segments)-1]
	if active.indexFile == nil {
		if err := active.openIndexFiles(false); err != nil {
			return err
		}
	}
	end := recoveryPoint{offset: active.next, segment: active.base, position: active.size}
	if (scanned || !clean || rpErr != nil) && len(bases) > 0 {
		// Make the recovered state durable so the end offset can be published as
		// synced, and record it as the new recovery point.
		if err := active.file.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", active.file.Name(), err)
		}
		if err := syncDir(l.fs, l.dir); err != nil {
			return err
		}
		if rpErr != nil {
			if err := l.checkpoint(end); err != nil {
				return err
			}
		} else {
			// The recorded point is still a true lower bound: leave the newer one
			// to the next group commit or Close. Writing it here cost three
			// fsyncs per partition (temp file, rename, dir) on the restart after
			// a crash, when every partition opens at once; a crash before then
			// only re-validates this same tail.
			l.rpWritten = rp
		}
	} else {
		l.rpWritten = end // what Close recorded
	}

	if err := l.recoverEpochs(); err != nil {
		return err
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

// scanSealed re-validates every batch of a sealed segment and rebuilds its
// indexes. Bad bytes are quarantined, never cut: the segment keeps its size
// and still ends where the next one begins.
func (l *Log) scanSealed(s *segment, nextBase int64) error {
	fileSize, err := l.startScan(s)
	if err != nil {
		return err
	}
	res, err := l.scanInto(s, fileSize, scanConfig{base: s.base, nextBase: nextBase, quarantineTo: fileSize, checkAt: -1})
	if err != nil {
		return err
	}
	s.damaged = res.damaged
	s.size, s.alloc, s.next = fileSize, fileSize, nextBase
	if n := len(s.index); n > 0 {
		s.bytesSinceIndex = fileSize - int64(s.index[n-1].pos)
	}
	return l.finishSealed(s)
}

// finishSealed writes the rebuilt indexes of a sealed segment and makes them
// durable: sealed segments are trusted on the next open.
func (l *Log) finishSealed(s *segment) error {
	s.rollBase = l.loadedRollBase(s)
	s.addTimeEntry() // the final entry, as seal writes it
	if err := s.rewriteIndexes(true); err != nil {
		return err
	}
	for _, f := range []vfs.File{s.file, s.indexFile, s.timeFile} {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", f.Name(), err)
		}
	}
	return s.closeIndexFiles()
}

// scanActive re-validates the last segment (see recover) and cuts its torn
// tail. If its end is damaged beyond repair the bytes are kept, the segment is
// sealed as it is and a new active segment starts at the true end offset.
func (l *Log) scanActive(s *segment, clean bool, rp recoveryPoint) error {
	fileSize, err := l.startScan(s)
	if err != nil {
		return err
	}
	cfg := scanConfig{base: s.base, nextBase: -1, checkAt: -1}
	rpHere := rp.segment == s.base && rp.position <= fileSize && rp.offset >= s.base
	switch {
	case rpHere && clean:
		cfg.quarantineTo, cfg.checkAt = rp.position, rp.position
	case rpHere:
		cfg.crcFrom, cfg.quarantineTo, cfg.checkAt = rp.position, rp.position, rp.position
	case clean:
		cfg.quarantineTo = fileSize // everything was durable at Close
	}
	var res scanResult
	if rpHere && !clean && len(s.damaged) == 0 && l.loadTrustedPrefix(s, rp, fileSize) {
		// Only the bytes after the recovery point are read.
		cfg.from, cfg.fromOffset, cfg.checkAt = rp.position, rp.offset, -1
	}
	res, err = l.scanInto(s, fileSize, cfg)
	if err != nil {
		return err
	}
	if rpHere && (res.straddled || res.nextAt >= 0 && res.nextAt != rp.offset) {
		l.logger.Warn("recovery point does not match the segment; validating all of it",
			"segment", s.base, "recoveryPoint", rp.offset, "position", rp.position, "offsetThere", res.nextAt)
		rpHere = false
		cfg = scanConfig{base: s.base, nextBase: -1, checkAt: -1}
		if clean {
			cfg.quarantineTo = fileSize
		}
		if res, err = l.scanInto(s, fileSize, cfg); err != nil {
			return err
		}
	}
	s.damaged = res.damaged
	if res.tail != "" {
		zero, err := zeroTail(s.file, res.end, fileSize)
		if err != nil {
			return fmt.Errorf("log: recover %s: %w", s.file.Name(), err)
		}
		if zero {
			// Preallocated space past the data (see "Preallocation" in
			// doc.go): the normal end of an active segment after a crash.
			l.logger.Info("truncating zero-filled tail of log segment",
				"segment", s.base, "position", res.end, "bytesRemoved", fileSize-res.end)
		} else {
			l.logger.Warn("truncating torn tail of log segment after the recovery point",
				"segment", s.base, "position", res.end, "bytesRemoved", fileSize-res.end, "reason", res.tail)
		}
		if err := s.file.Truncate(res.end); err != nil {
			return fmt.Errorf("log: truncate %s: %w", s.file.Name(), err)
		}
		fileSize = res.end
	}
	s.alloc = fileSize
	s.rollBase = l.loadedRollBase(s)
	n := len(s.damaged)
	if n == 0 || s.damaged[n-1].EndOffset >= 0 {
		return s.rewriteIndexes(true)
	}

	// The end of the segment is damaged and no valid batch follows. The
	// offsets it held are unknown; the recovery point, when it can be
	// trusted, says how far acknowledged offsets went: never reuse them.
	d := &s.damaged[n-1]
	d.EndOffset = s.next
	if rpHere && rp.offset > s.next && rp.offset-s.next <= d.Length {
		d.EndOffset = rp.offset
	}
	s.size, s.next = fileSize, d.EndOffset
	if err := l.finishSealed(s); err != nil {
		return err
	}
	ns, err := createSegment(l.fs, l.dir, s.next, l.now())
	if err != nil {
		return err
	}
	l.logger.Error("end of the active log segment is damaged; kept it as a sealed segment and started a new one",
		"segment", s.base, "newSegment", ns.base)
	l.segments = append(l.segments, ns)
	return syncDir(l.fs, l.dir)
}

// loadTrustedPrefix restores the in-memory state of the active segment s for
// its fsynced prefix, bytes [0, rp.position), from its index files and a walk
// over the headers after the last index entry in the prefix, without reading
// the rest of the prefix. It reports false, leaving s to be reset, when the
// files do not agree with rp (missing or malformed, not fsynced before a power
// loss, or the walk not landing on rp.position with offset rp.offset). Index
// entries before the last one are not checked against the data here; a read
// that finds one wrong falls back to walking from the segment's start.
func (l *Log) loadTrustedPrefix(s *segment, rp recoveryPoint, fileSize int64) bool {
	if rp.position == 0 {
		return false
	}
	b, err := vfs.ReadFile(l.fs, s.path(indexExt))
	if err != nil {
		return false
	}
	index, err := decodeOffsetIndex(b, fileSize, -1)
	if err != nil {
		return false
	}
	index = index[:sort.Search(len(index), func(i int) bool { return int64(index[i].pos) >= rp.position })]
	if len(index) == 0 || index[0].pos != 0 {
		return false
	}
	if b, err = vfs.ReadFile(l.fs, s.path(timeIndexExt)); err != nil {
		return false
	}
	times, err := decodeTimeIndex(b, -1)
	if err != nil {
		return false
	}
	last := index[len(index)-1]
	times = times[:sort.Search(len(times), func(i int) bool { return times[i].rel > last.rel })]

	s.index, s.times = index, times
	s.maxTs, s.maxTsOffset = -1, -1
	if n := len(times); n > 0 {
		s.maxTs, s.maxTsOffset = times[n-1].ts, s.base+int64(times[n-1].rel)
	}
	pos, next := int64(last.pos), s.base+int64(last.rel)
	var buf [batchHeaderSize]byte
	for pos < rp.position {
		h, err := readHeader(s.file, pos, rp.position, &buf)
		if err != nil || h.BaseOffset != next {
			return false
		}
		if pos == int64(last.pos) {
			// Already indexed: account for it as track would have.
			if h.MaxTimestamp > s.maxTs {
				s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.BaseOffset
			}
			s.bytesSinceIndex = h.Size()
			s.size, s.next = pos+h.Size(), h.LastOffset()+1
		} else {
			s.track(h, pos, l.cfg.IndexIntervalBytes)
		}
		pos, next = pos+h.Size(), h.LastOffset()+1
	}
	return pos == rp.position && next == rp.offset
}

// startScan resets s before a scan and returns its file size.
func (l *Log) startScan(s *segment) (int64, error) {
	l.scannedSegments.Add(1)
	if err := s.closeIndexFiles(); err != nil {
		return 0, err
	}
	st, err := s.file.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// scanInto runs scanBatches over s and rebuilds its in-memory state from the
// good batches.
func (l *Log) scanInto(s *segment, fileSize int64, cfg scanConfig) (scanResult, error) {
	if cfg.from == 0 {
		s.index, s.times = nil, nil
		s.size, s.next, s.maxTs, s.maxTsOffset, s.bytesSinceIndex = 0, s.base, -1, -1, 0
	}
	interval := int64(l.cfg.IndexIntervalBytes)
	res, err := scanBatches(s.file, fileSize, cfg, func(h BatchHeader, pos int64, resumed bool) {
		if resumed {
			// An index entry right after damaged bytes, so that lookups
			// never walk headers across them (see segment.readWindow).
			s.bytesSinceIndex = max(s.bytesSinceIndex, interval)
		}
		s.track(h, pos, int(interval))
		l.noteScannedEpoch(h)
	})
	l.scannedBytes.Add(res.crcBytes)
	if err != nil {
		return res, fmt.Errorf("log: recover %s: %w", s.file.Name(), err)
	}
	return res, nil
}

// noteDamaged gathers the damaged ranges of the segments into l.damaged, logs
// the new ones at ERROR and the known ones at WARN, and records them in the
// damaged-ranges file when they changed.
func (l *Log) noteDamaged(known []DamagedRange) error {
	var all []DamagedRange
	for _, s := range l.segments {
		all = append(all, s.damaged...)
	}
	sortDamaged(all)
	_, added := mergeDamaged(known, all)
	for _, d := range all {
		isNew := true
		for _, k := range known {
			if k.File == d.File && k.Position == d.Position {
				isNew = false
			}
		}
		if isNew {
			l.logger.Error("damaged bytes in log segment: quarantined, kept in place; reads of these offsets fail with CORRUPT_MESSAGE",
				"file", d.File, "position", d.Position, "length", d.Length, "firstOffset", d.FirstOffset, "endOffset", d.EndOffset, "reason", d.Reason)
		} else {
			l.logger.Warn("log segment has a damaged range found earlier",
				"file", d.File, "position", d.Position, "length", d.Length, "firstOffset", d.FirstOffset, "endOffset", d.EndOffset)
		}
	}
	l.damaged = all
	if !added && len(all) == len(known) {
		return nil
	}
	if err := writeDamaged(l.fs, l.dir, all); err != nil {
		return fmt.Errorf("log: record damaged ranges: %w", err)
	}
	return nil
}

// damagedAtStart reports whether s has a damaged range at position 0, so its
// index cannot start there.
func (s *segment) damagedAtStart() bool {
	return len(s.damaged) > 0 && s.damaged[0].Position == 0
}

// listSegments returns the base offsets of the .log files in the directory, and
// deletes leftovers: temp files and index files without a .log.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := l.fs.ReadDir(l.dir)
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
		l.logger.Info("removing leftover file", "file", name)
		if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil {
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
	b, err := vfs.ReadFile(l.fs, s.path(indexExt))
	if err != nil {
		return err
	}
	if s.index, err = decodeOffsetIndex(b, s.size, maxRel); err != nil {
		return err
	}
	if b, err = vfs.ReadFile(l.fs, s.path(timeIndexExt)); err != nil {
		return err
	}
	if s.times, err = decodeTimeIndex(b, maxRel); err != nil {
		return err
	}
	if s.size > 0 && (len(s.index) == 0 || s.index[0].pos != 0) && !s.damagedAtStart() {
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
	// Walk the headers after the last index entry: they give the end offset
	// (at most IndexIntervalBytes of headers).
	s.next = s.base
	if len(s.index) > 0 {
		s.next = s.base + int64(s.index[len(s.index)-1].rel)
	}
	var buf [batchHeaderSize]byte
	for pos := lastPos; pos < s.size; {
		if d, ok := damagedFrom(s.damaged, pos); ok {
			pos, s.next = d.Position+d.Length, max(s.next, d.EndOffset)
			continue
		}
		h, err := readHeader(s.file, pos, s.size, &buf)
		if err != nil {
			if zero, zerr := zeroTail(s.file, pos, s.size); zerr == nil && zero {
				return fmt.Errorf("%w at position %d", errZeroTail, pos)
			}
			return err
		}
		if h.BaseOffset < s.next || (nextBase < 0 && h.BaseOffset != s.next) {
			return fmt.Errorf("batch at position %d has base offset %d, want %d", pos, h.BaseOffset, s.next)
		}
		if h.MaxTimestamp > s.maxTs {
			s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.BaseOffset
		}
		s.next = h.LastOffset() + 1
		pos += h.Size()
	}
	if n := len(s.times); n > 0 && s.base+int64(s.times[n-1].rel) >= s.next {
		return fmt.Errorf("time index entry %d has offset %d past the segment end %d", n-1, s.base+int64(s.times[n-1].rel), s.next)
	}
	if nextBase >= 0 {
		switch {
		case s.next > nextBase:
			return fmt.Errorf("segment ends at offset %d, past the next segment's base %d", s.next, nextBase)
		case s.next < nextBase:
			// Offsets missing between two segments (a lost segment file):
			// nothing to delete, but reads of them must fail.
			gap := DamagedRange{File: baseName(s.path(logExt)), Position: s.size, FirstOffset: s.next, EndOffset: nextBase,
				Reason: fmt.Sprintf("segment ends at offset %d but the next one starts at %d", s.next, nextBase)}
			if _, ok := s.damagedAt(s.next); !ok {
				s.damaged = append(s.damaged, gap)
			}
			s.next = nextBase
		}
		return nil
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

// errZeroTail reports that the data of a segment is followed by zeros: space
// preallocated with fallocate that was not trimmed (a crash, or a failed trim).
var errZeroTail = errors.New("zero-filled tail after the last batch")

// zeroTail reports whether bytes [pos, end) of f are all zero.
func zeroTail(f vfs.File, pos, end int64) (bool, error) {
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
