package log

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"
)

// ErrTruncated is returned by Sync to a caller waiting for offsets that
// TruncateTo removed.
var ErrTruncated = errors.New("log: offsets truncated before they were durable")

// errTruncateCrash is what TruncateTo returns when Log.truncateCrashPoint
// stops it (tests only).
var errTruncateCrash = errors.New("log: simulated crash in TruncateTo")

// TruncateTo removes every offset at or after offset, for a replica whose
// log diverged from its leader's (it truncates to the leader's end offset
// for its epoch, a batch boundary on both). A batch holding offset is
// removed whole, as Kafka does, so the new end offset is the base of the
// first removed batch (offset itself at a batch boundary); an offset inside
// a damaged range cuts at the range's first byte. offset at or past the end
// does nothing; below the log start it fails with ErrOffsetOutOfRange. The
// high watermark and the fsynced end come down to the new end if they were
// above it. See "Truncation" in doc.go for the order of the file operations
// and why a crash at any point recovers to a consistent log.
//
// The owner must also call TxnIndex.TruncateTo, and forget producer and
// transaction state past the new end.
func (l *Log) TruncateTo(offset int64) error {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if err := l.failure(); err != nil {
		return err
	}
	end, start := l.end.Load(), l.start.Load()
	if offset >= end {
		return nil
	}
	if offset < start {
		return fmt.Errorf("%w: cannot truncate to %d, below the log start %d", ErrOffsetOutOfRange, offset, start)
	}

	// Hold the group-commit role so that no fsync publishes, and no background
	// checkpoint records, a position from before the cut.
	l.syncMu.Lock()
	for l.syncing {
		l.syncCond.Wait()
	}
	l.syncing = true
	l.syncMu.Unlock()
	l.checkpointWG.Wait()
	defer func() {
		l.syncMu.Lock()
		l.syncing = false
		l.syncCond.Broadcast()
		l.syncMu.Unlock()
	}()

	l.mu.RLock()
	i := max(l.segmentFor(offset), 0)
	l.mu.RUnlock()
	s := l.segments[i]
	pos, newEnd, err := cutPoint(s, offset)
	if err != nil {
		return fmt.Errorf("log: truncate to %d: %w", offset, err)
	}
	victims := l.segments[i+1:]
	var removedBytes int64 = s.size - pos
	for _, v := range victims {
		removedBytes += v.size
	}
	l.logger.Warn("truncating log", "from", end, "to", newEnd, "requested", offset,
		"segmentsRemoved", len(victims), "segment", s.base, "position", pos, "bytesRemoved", removedBytes)

	// 1. The recovery point comes down first: bytes past the cut will be
	// rewritten by later appends and must never be trusted unread.
	rp := recoveryPoint{offset: newEnd, segment: s.base, position: pos}
	if err := l.lowerCheckpoint(rp); err != nil {
		return err
	}
	if err := l.truncateFiles(s, i, pos, newEnd); err != nil {
		// The files are part-way between the old log and the new one, which
		// only recovery sorts out: refuse appends until the log is reopened.
		l.syncMu.Lock()
		if l.syncErr == nil {
			l.syncErr = fmt.Errorf("log: truncation failed; reopen the log: %w", err)
		}
		l.syncMu.Unlock()
		return err
	}
	return nil
}

// truncateFiles does steps 2-5 of TruncateTo (see doc.go).
// REQUIRES: as for TruncateTo, after step 1.
func (l *Log) truncateFiles(s *segment, i int, pos, newEnd int64) error {
	victims := l.segments[i+1:]
	if l.truncateCrashPoint == "recovery-point" {
		return errTruncateCrash
	}
	// 2. Damaged ranges past the cut: a crash from here on may leave damaged
	// bytes the file no longer lists, but they are past the recovery point,
	// so recovery re-reads them (and cuts or quarantines them again).
	l.mu.RLock()
	damaged := append([]DamagedRange(nil), l.damaged...)
	l.mu.RUnlock()
	keptDamaged := splitDamaged(damaged, s, victims, pos)
	if len(keptDamaged) < len(damaged) {
		if err := writeDamaged(l.fs, l.dir, keptDamaged); err != nil {
			return fmt.Errorf("log: record damaged ranges: %w", err)
		}
	}
	if l.truncateCrashPoint == "damaged-ranges" {
		return errTruncateCrash
	}

	// 3. Whole segments after the cut, newest first, so that what is left
	// is always a prefix of the log with no hole.
	for k := len(victims) - 1; k >= 0; k-- {
		v := victims[k]
		for _, ext := range []string{logExt, indexExt, timeIndexExt} {
			if err := l.fs.Remove(v.path(ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: truncate: %w", err)
			}
		}
		l.mu.Lock()
		l.segments = l.segments[:i+1+k]
		l.size.Add(-v.size)
		l.mu.Unlock()
		v.closeIndexFiles()
		f := v.file
		time.AfterFunc(closeDelay, func() { f.Close() }) // readers may hold Slices
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return err
	}
	if l.truncateCrashPoint == "segments-removed" {
		return errTruncateCrash
	}

	// 4. Cut the containing segment, which becomes the active one.
	if err := s.file.Truncate(pos); err != nil {
		return fmt.Errorf("log: truncate %s: %w", s.file.Name(), err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("log: fsync %s: %w", s.file.Name(), err)
	}
	if l.truncateCrashPoint == "cut" {
		return errTruncateCrash
	}
	// 5. Epochs past the cut, now that no batch of theirs is left (before,
	// a crash would leave batches whose epochs the file lacks; after, only
	// entries at or past the log end, which Open drops).
	l.mu.RLock()
	epochs := append([]EpochEntry(nil), l.epochs...)
	l.mu.RUnlock()
	keptEpochs := epochs[:sort.Search(len(epochs), func(i int) bool { return epochs[i].StartOffset >= newEnd })]
	if len(keptEpochs) < len(epochs) {
		if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, encodeEpochs(keptEpochs)); err != nil {
			return err
		}
		l.logger.Warn("truncated leader epochs", "removed", epochs[len(keptEpochs):])
	}
	if l.truncateCrashPoint == "epochs" {
		return errTruncateCrash
	}
	maxTs, maxTsOffset, err := s.maxTimestampBelow(pos, newEnd)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.size.Add(-(s.size - pos))
	s.cutTo(pos, newEnd)
	s.maxTs, s.maxTsOffset = maxTs, maxTsOffset
	var own []DamagedRange
	for _, d := range s.damaged {
		if d.Position < pos {
			own = append(own, d)
		}
	}
	s.damaged = own
	l.damaged = keptDamaged
	l.epochs = keptEpochs
	l.end.Store(newEnd)
	if l.hw.Load() > newEnd {
		l.hw.Store(newEnd)
	}
	l.mu.Unlock()
	s.alloc = pos
	s.rollBase = l.loadedRollBase(s)
	if err := s.rewriteIndexes(true); err != nil {
		return err
	}
	l.syncMu.Lock()
	l.syncedEnd = min(l.syncedEnd, newEnd)
	l.syncMu.Unlock()
	for {
		// Compaction must look at the new batches written past the cut.
		c := l.cleanedEnd.Load()
		if c <= newEnd || l.cleanedEnd.CompareAndSwap(c, newEnd) {
			break
		}
	}
	return nil
}

// cutPoint finds where in s the log must end so that offset is gone: the
// position and base offset of the batch holding offset (or of the first one
// after it), or of a damaged range holding it.
func cutPoint(s *segment, offset int64) (pos, newEnd int64, err error) {
	next := s.base
	if len(s.damaged) == 0 {
		if rel, p := lookupEntry(s.index, offset-s.base); rel >= 0 {
			pos, next = p, s.base+rel
		}
	}
	var buf [batchHeaderSize]byte
	for pos < s.size {
		if d, ok := damagedFrom(s.damaged, pos); ok {
			if d.EndOffset > offset {
				return pos, min(d.FirstOffset, next), nil
			}
			pos, next = d.Position+d.Length, d.EndOffset
			continue
		}
		h, err := readHeader(s.file, pos, s.size, &buf)
		if err != nil {
			return 0, 0, err
		}
		if h.LastOffset() >= offset {
			return pos, h.BaseOffset, nil
		}
		pos, next = pos+h.Size(), h.LastOffset()+1
	}
	return s.size, next, nil
}

// splitDamaged returns the damaged ranges that survive a cut of s at pos
// that removes victims: those of other segments, and those of s before pos.
func splitDamaged(all []DamagedRange, s *segment, victims []*segment, pos int64) []DamagedRange {
	gone := map[string]bool{}
	for _, v := range victims {
		gone[baseName(v.path(logExt))] = true
	}
	name := baseName(s.path(logExt))
	var kept []DamagedRange
	for _, d := range all {
		if gone[d.File] || d.File == name && d.Position >= pos {
			continue
		}
		kept = append(kept, d)
	}
	return kept
}

// cutTo drops the in-memory state of s past position pos, where offset
// newEnd begins.
// REQUIRES: Log.appendMu and Log.mu held.
func (s *segment) cutTo(pos, newEnd int64) {
	s.index = s.index[:sort.Search(len(s.index), func(i int) bool { return int64(s.index[i].pos) >= pos })]
	s.times = s.times[:sort.Search(len(s.times), func(i int) bool { return s.base+int64(s.times[i].rel) >= newEnd })]
	s.bytesSinceIndex = 0
	if n := len(s.index); n > 0 {
		s.bytesSinceIndex = pos - int64(s.index[n-1].pos)
	}
	s.size, s.next = pos, newEnd
}

// lowerCheckpoint records rp as the recovery point if it is below the one
// recorded (checkpoint only ever raises it).
func (l *Log) lowerCheckpoint(rp recoveryPoint) error {
	l.rpMu.Lock()
	defer l.rpMu.Unlock()
	if w := l.rpWritten; w.offset < rp.offset || w.offset == rp.offset && w.segment == rp.segment && w.position <= rp.position {
		return nil
	}
	if err := writeFileAtomic(l.fs, l.dir, recoveryPointFile, rp.encode()); err != nil {
		return err
	}
	l.rpWritten = rp
	return nil
}

// maxTimestampBelow computes the largest batch max timestamp of s before
// position pos (offset newEnd): the time index up to there, plus a header
// walk after the last offset index entry before pos, which the time index
// may not cover yet.
// REQUIRES: Log.appendMu held.
func (s *segment) maxTimestampBelow(pos, newEnd int64) (int64, int64, error) {
	maxTs, maxTsOffset := int64(-1), int64(-1)
	for _, t := range s.times {
		if s.base+int64(t.rel) < newEnd {
			maxTs, maxTsOffset = t.ts, s.base+int64(t.rel)
		}
	}
	from := int64(0)
	if k := sort.Search(len(s.index), func(i int) bool { return int64(s.index[i].pos) >= pos }); k > 0 {
		from = int64(s.index[k-1].pos)
	}
	var buf [batchHeaderSize]byte
	for p := from; p < pos; {
		if d, ok := damagedFrom(s.damaged, p); ok {
			p = d.Position + d.Length
			continue
		}
		h, err := readHeader(s.file, p, pos, &buf)
		if err != nil {
			return 0, 0, err
		}
		if h.MaxTimestamp > maxTs {
			maxTs, maxTsOffset = h.MaxTimestamp, h.BaseOffset
		}
		p += h.Size()
	}
	return maxTs, maxTsOffset, nil
}
