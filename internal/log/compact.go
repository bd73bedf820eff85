package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"time"
)

// Log compaction (cleanup.policy=compact): see "Compaction" in doc.go for the
// rules and the crash-safety argument.

// cleanedExt is the suffix of a segment being rewritten by the cleaner:
// <base>.log.cleaned. Open deletes leftovers; the rename over <base>.log is the
// commit point.
const cleanedExt = ".cleaned"

var errSimulatedCrash = errors.New("log: simulated crash during compaction")

// noDeadline is the tombstone deadline when no tombstone was kept.
const noDeadline = math.MaxInt64

// CompactStats describes one compaction pass.
type CompactStats struct {
	Segments          int   // non-active segments examined
	Rewritten         int   // segments replaced by a cleaned copy
	Keys              int   // distinct keys seen
	RecordsRemoved    int64 // superseded or unkeyed records dropped, tombstones included
	TombstonesRemoved int64 // latest-for-their-key tombstones dropped because they expired
	BatchesRemoved    int64 // batches left with no records and dropped
	BytesBefore       int64 // size of the rewritten segments before
	BytesAfter        int64 // and after
}

// keyState is what the cleaner knows about a key after the map pass.
type keyState struct {
	offset    int64 // offset of the latest record with this key
	ts        int64 // its timestamp
	tombstone bool  // it has a null value
}

// NeedsCompaction is a cheap check for a periodic caller: the log is compacted
// and either a non-active segment appeared since the last pass or a kept
// tombstone has expired since.
func (l *Log) NeedsCompaction() bool {
	l.mu.RLock()
	compacts := l.cfg.CleanupPolicy.Compacts()
	end := l.cleanableEndLocked()
	l.mu.RUnlock()
	if !compacts || l.closed.Load() {
		return false
	}
	if end > l.cleanedEnd.Load() {
		return true
	}
	d := l.tombstoneDeadline.Load()
	return d != noDeadline && l.now().UnixMilli() >= d
}

// cleanableEndLocked returns the end offset of the last segment the cleaner may
// rewrite: not the active one, and wholly below the high watermark.
// REQUIRES: mu held.
func (l *Log) cleanableEndLocked() int64 {
	hw := l.hw.Load()
	for i := len(l.segments) - 2; i >= 0; i-- {
		if s := l.segments[i]; s.next <= hw {
			return s.next
		}
	}
	return l.segments[0].base
}

// Compact runs one compaction pass if the log's cleanup policy includes compact
// (otherwise it does nothing). It maps every key to its latest offset over the
// non-active segments below the high watermark, then rewrites each of those
// segments that holds something to drop: records superseded by a later record
// with the same key, records without a key, and tombstones (null values) that
// are the latest for their key but whose timestamp is older than
// now-DeleteRetention. Offsets never change.
//
// Appends, reads and fsyncs keep running during the pass; appendMu is taken only
// to swap each cleaned segment in. Retention waits for the pass to finish.
func (l *Log) Compact(now time.Time) (CompactStats, error) {
	var stats CompactStats
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	if l.closed.Load() || l.closing.Load() {
		return stats, ErrClosed
	}
	l.mu.RLock()
	cfg := l.cfg
	end := l.cleanableEndLocked()
	var segs []*segment
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > end || len(s.damaged) > 0 {
			// Quarantined bytes are left alone, and so is everything after
			// them: the key map would miss the keys they held.
			break
		}
		segs = append(segs, s)
	}
	l.mu.RUnlock()
	if !cfg.CleanupPolicy.Compacts() || len(segs) == 0 {
		return stats, nil
	}
	stats.Segments = len(segs)

	// Pass 1: the latest offset of every key, and per segment how many records
	// could be dropped at all.
	keys := map[string]keyState{}
	records := make([]int64, len(segs)) // records in decodable, non-transactional batches
	type pending struct {
		key []byte
		st  keyState
	}
	var pend []pending
	for i, s := range segs {
		err := l.scanBatches(s, func(_ int64, batch []byte, h BatchHeader) error {
			if !cleanable(h) {
				return nil
			}
			pend = pend[:0]
			err := forEachRecord(batch, h, func(r record) error {
				pend = append(pend, pending{r.Key, keyState{offset: h.BaseOffset + int64(r.OffsetDelta), ts: recordTimestamp(h, r), tombstone: r.NullValue}})
				return nil
			})
			if err != nil {
				// Pass 2 keeps such a batch verbatim; its keys do not count.
				l.logger.Warn("compaction: cannot decode batch records; keeping the batch as is", "offset", h.BaseOffset, "err", err)
				return nil
			}
			records[i] += int64(len(pend))
			for _, p := range pend {
				if p.key != nil {
					keys[string(p.key)] = p.st
				}
			}
			return nil
		})
		if err != nil {
			return stats, err
		}
	}
	stats.Keys = len(keys)

	cutoff := now.Add(-cfg.DeleteRetention).UnixMilli()
	deadline := int64(noDeadline)
	kept := make([]int64, len(segs))
	for _, k := range keys {
		i := sort.Search(len(segs), func(i int) bool { return segs[i].next > k.offset })
		if k.tombstone && k.ts < cutoff {
			continue
		}
		if k.tombstone {
			deadline = min(deadline, k.ts+cfg.DeleteRetention.Milliseconds()+1)
		}
		kept[i]++
	}

	// Pass 2: rewrite the segments that have something to drop.
	for i, s := range segs {
		if kept[i] == records[i] {
			continue
		}
		if l.closing.Load() {
			return stats, ErrClosed
		}
		if err := l.cleanSegment(s, keys, cutoff, cfg.IndexIntervalBytes, &stats); err != nil {
			return stats, err
		}
	}
	l.cleanedEnd.Store(end)
	l.tombstoneDeadline.Store(deadline)
	if stats.Rewritten > 0 {
		l.logger.Info("compacted log", "segments", stats.Rewritten, "records removed", stats.RecordsRemoved,
			"bytes before", stats.BytesBefore, "bytes after", stats.BytesAfter)
	}
	return stats, nil
}

// cleanable reports whether the cleaner may look inside a batch. Transactional
// and control batches are kept verbatim: dropping records from them needs the
// transaction markers' semantics (aborted data, markers' own lifetime), which
// the cleaner does not implement yet.
func cleanable(h BatchHeader) bool {
	return h.Attributes&(attrTransactional|attrControl) == 0
}

// scanBatches calls fn for every batch of s (up to its size), validated with
// its CRC. A bad batch in a sealed segment stops the pass with an error: the
// cleaner never rewrites what it cannot read.
func (l *Log) scanBatches(s *segment, fn func(pos int64, batch []byte, h BatchHeader) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, s.size), int(min(s.size, 1<<20)))
	var buf []byte
	for pos := int64(0); pos < s.size; {
		if s.size-pos < batchHeaderSize {
			return fmt.Errorf("log: compact %s: %w: torn batch at position %d", s.file.Name(), ErrCorruptBatch, pos)
		}
		buf = grow(buf, logOverhead)
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("log: compact %s: %w", s.file.Name(), err)
		}
		length := int64(int32(binary.BigEndian.Uint32(buf[offLength:])))
		if length < minBatchLength || pos+logOverhead+length > s.size {
			return fmt.Errorf("log: compact %s: %w: bad length %d at position %d", s.file.Name(), ErrCorruptBatch, length, pos)
		}
		buf = grow(buf, logOverhead+int(length))
		if _, err := io.ReadFull(r, buf[logOverhead:]); err != nil {
			return fmt.Errorf("log: compact %s: %w", s.file.Name(), err)
		}
		h, err := parseStoredBatch(buf)
		if err != nil {
			return fmt.Errorf("log: compact %s at position %d: %w", s.file.Name(), pos, err)
		}
		if err := fn(pos, buf, h); err != nil {
			return err
		}
		pos += h.Size()
		if l.closing.Load() {
			return ErrClosed
		}
	}
	return nil
}

// cleanSegment writes the cleaned copy of s to <base>.log.cleaned and swaps it in.
// REQUIRES: cleanMu held.
func (l *Log) cleanSegment(s *segment, keys map[string]keyState, cutoff int64, interval int, stats *CompactStats) (err error) {
	tmpPath := s.path(logExt) + cleanedExt
	f, err := l.fs.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("log: compact: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			l.fs.Remove(tmpPath)
		}
	}()
	ns := &segment{base: s.base, dir: s.dir, fs: s.fs, file: f, next: s.base, maxTs: -1, maxTsOffset: -1, rollBase: s.rollBase}
	w := bufio.NewWriterSize(f, int(min(s.size, 1<<20)))
	var out []byte
	var keptRaw [][]byte
	var wpos int64
	write := func(b []byte) error {
		h := decodeHeader(b)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("log: compact: write %s: %w", tmpPath, err)
		}
		ns.track(h, wpos, interval)
		wpos += int64(len(b))
		return nil
	}
	err = l.scanBatches(s, func(pos int64, batch []byte, h BatchHeader) error {
		last := pos+h.Size() == s.size
		if !cleanable(h) {
			return write(batch)
		}
		keptRaw = keptRaw[:0]
		var removed, tombs int64
		derr := forEachRecord(batch, h, func(r record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if r.Key != nil {
				if k, ok := keys[string(r.Key)]; ok && k.offset == off {
					if !r.NullValue || k.ts >= cutoff {
						keptRaw = append(keptRaw, r.Raw)
						return nil
					}
					tombs++
				}
			}
			removed++
			return nil
		})
		if derr != nil || removed == 0 {
			return write(batch)
		}
		stats.RecordsRemoved += removed
		stats.TombstonesRemoved += tombs
		if len(keptRaw) == 0 && !last {
			stats.BatchesRemoved++
			return nil
		}
		out = rebuildBatch(out[:0], batch, keptRaw)
		return write(out)
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("log: compact: write %s: %w", tmpPath, err)
	}
	ns.addTimeEntry()
	ns.alloc = wpos // written sequentially, never preallocated
	if ns.next != s.next || ns.size != wpos {
		// Cannot happen: the last batch is always kept.
		return fmt.Errorf("log: compact %s: cleaned copy ends at %d, want %d", s.file.Name(), ns.next, s.next)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: compact: fsync %s: %w", tmpPath, err)
	}
	if l.compactCrashPoint == "written" {
		committed = true // leave the files as a crash would
		return errSimulatedCrash
	}

	// The old index files would not match the new .log: remove them first, so a
	// crash anywhere below leaves a segment without indexes (rebuilt by the next
	// Open), never one with indexes pointing into the wrong file.
	for _, ext := range []string{indexExt, timeIndexExt} {
		if err := l.fs.Remove(s.path(ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("log: compact: %w", err)
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return err
	}

	if l.compactCrashPoint == "indexes-removed" {
		committed = true
		return errSimulatedCrash
	}

	l.appendMu.Lock()
	if l.closed.Load() {
		l.appendMu.Unlock()
		return ErrClosed
	}
	l.mu.RLock()
	i := l.segmentFor(s.base)
	present := i >= 0 && l.segments[i] == s
	l.mu.RUnlock()
	if !present {
		l.appendMu.Unlock()
		return fmt.Errorf("log: compact: segment %d went away", s.base)
	}
	if err := l.fs.Rename(tmpPath, s.path(logExt)); err != nil {
		l.appendMu.Unlock()
		return fmt.Errorf("log: compact: %w", err)
	}
	committed = true
	l.mu.Lock()
	l.segments[i] = ns
	l.size.Add(ns.size - s.size)
	l.mu.Unlock()
	l.appendMu.Unlock()

	stats.Rewritten++
	stats.BytesBefore += s.size
	stats.BytesAfter += ns.size
	// Readers may still hold Slices of the old file: close it later, as
	// retention does.
	old := s.file
	time.AfterFunc(closeDelay, func() { old.Close() })

	if err := syncDir(l.fs, l.dir); err != nil {
		return err
	}
	if l.compactCrashPoint == "renamed" {
		return errSimulatedCrash
	}
	// The rename is durable; now the indexes. A failure here only costs a
	// rebuild on the next Open.
	if err := writeFileAtomic(l.fs, l.dir, segmentPath("", s.base, indexExt), encodeOffsetIndex(ns.index)); err != nil {
		l.logger.Warn("compaction: cannot write index; it will be rebuilt on next open", "segment", s.base, "err", err)
	} else if err := writeFileAtomic(l.fs, l.dir, segmentPath("", s.base, timeIndexExt), encodeTimeIndex(ns.times)); err != nil {
		l.logger.Warn("compaction: cannot write time index; it will be rebuilt on next open", "segment", s.base, "err", err)
	}
	return nil
}

// rebuildBatch appends to dst a copy of batch holding only the given records
// (raw, length-prefixed, uncompressed): same base offset, leader epoch, last
// offset delta, timestamps and producer fields; compression cleared; record
// count, length and CRC recomputed.
func rebuildBatch(dst, batch []byte, records [][]byte) []byte {
	start := len(dst)
	dst = append(dst, batch[:batchHeaderSize]...)
	for _, r := range records {
		dst = append(dst, r...)
	}
	b := dst[start:]
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(len(b)-logOverhead))
	be.PutUint16(b[offAttributes:], be.Uint16(b[offAttributes:])&^attrCompressionMask)
	be.PutUint32(b[offNumRecords:], uint32(len(records)))
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst
}
