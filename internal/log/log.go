package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Log is one partition: a directory of segments holding record batches verbatim.
//
// Lock order (acquire left to right, never the reverse):
//
//	cleanMu → appendMu → syncMu → mu
//
// cleanMu serializes the maintenance passes that replace or remove sealed
// segments: Compact and EnforceRetention (and Close waits for it, after asking a
// running Compact to stop). It is held across long file I/O, so nothing on the
// append, read or fsync paths takes it.
// appendMu serializes everything that writes: Append, roll, retention, SetConfig,
// Close. It is held across write(2) but never across a group-commit fsync, so
// appends keep flowing while an fsync runs. syncMu guards the group-commit state
// (syncing, syncedEnd, syncErr). mu guards the segment list, cfg and the segment
// fields that readers look at; it is held only for memory updates and snapshots,
// never for file I/O.
//
// end, start, hw and size are atomics so the hot getters take no lock; they are
// written with appendMu (and mu) held, so they never move backwards.
type Log struct {
	dir       string
	fs        vfs.FS
	logger    *slog.Logger
	onAdvance func(int64)
	onAppend  func(int64)
	now       func() time.Time
	// Metrics hooks (Options.OnFsync, OnGroupCommit); may be nil.
	onFsync       func(time.Duration)
	onGroupCommit func(int64)

	cleanMu sync.Mutex
	closing atomic.Bool // Close has begun: a running Compact gives up

	// Compaction progress, for NeedsCompaction: the end of the range the last
	// pass covered, and when the earliest tombstone it kept expires (Unix ms).
	cleanedEnd        atomic.Int64
	tombstoneDeadline atomic.Int64

	appendMu sync.Mutex

	syncMu    sync.Mutex
	syncCond  *sync.Cond
	syncing   bool  // an fsync for group commit is running
	syncedEnd int64 // every offset below is durable
	syncErr   error // sticky: after a failed fsync nothing is known to be durable
	syncStop  bool  // Close has begun
	// syncedAppends is appends as of the last group commit, to count the
	// batches each one covers.
	syncedAppends int64

	mu       sync.RWMutex
	segments []*segment // ordered by base offset; the last one is active
	cfg      Config

	end, start, hw, size atomic.Int64
	closed               atomic.Bool

	// preallocOff is set when fallocate failed once: appends then just extend
	// the file. REQUIRES: appendMu held.
	preallocOff bool

	flusherStop chan struct{} // non-nil while the FlushInterval goroutine runs
	flusherDone chan struct{}

	// compactCrashPoint makes Compact stop at a named step as if the process
	// died there (tests only): "written", "indexes-removed" or "renamed".
	compactCrashPoint string
	// truncateCrashPoint makes TruncateTo stop after a named step as if the
	// process died there (tests only): "recovery-point", "damaged-ranges",
	// "segments-removed", "cut" or "epochs".
	truncateCrashPoint string

	// The recovery-point file: rpMu serializes its writers (roll, Close and
	// the group commit's background checkpoint) and rpWritten is the last
	// one recorded; see recoverypoint.go.
	rpMu           sync.Mutex
	rpWritten      recoveryPoint
	lastCheckpoint atomic.Int64 // UnixNano of the last checkpoint started by the group commit
	checkpointing  atomic.Bool
	checkpointWG   sync.WaitGroup

	// epochs is the leader-epoch checkpoint in memory (see epochs.go):
	// written with appendMu and mu held, read under mu. leaderEpoch is what
	// Append stamps. scannedEpochs collects epochs seen by recovery's scan
	// of the tail after the recovery point.
	epochs        []EpochEntry
	leaderEpoch   atomic.Int32
	scannedEpochs []EpochEntry
	epochTailFrom int64 // recovery notes the epochs of batches from this offset on

	// damaged lists the byte ranges quarantined by recovery (see damaged.go);
	// set in Open, read-only afterwards.
	damaged []DamagedRange

	// appends counts batches appended since Open; written with mu held.
	appends atomic.Int64

	// Counters for tests.
	fsyncs          atomic.Int64
	scannedSegments atomic.Int64
	scannedBytes    atomic.Int64 // bytes whose CRC recovery checked
}

// Open opens the partition log in dir, creating the directory if needed, and
// recovers it (see recovery.go).
func Open(dir string, cfg Config, opts Options) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, fs: fs, logger: opts.Logger, onAdvance: opts.OnAdvance, onAppend: opts.OnAppend, now: opts.Now, cfg: cfg,
		onFsync: opts.OnFsync, onGroupCommit: opts.OnGroupCommit}
	if l.logger == nil {
		l.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l.logger = l.logger.With("dir", dir)
	if l.now == nil {
		l.now = time.Now
	}
	l.syncCond = sync.NewCond(&l.syncMu)
	l.tombstoneDeadline.Store(noDeadline)
	if err := l.recover(); err != nil {
		for _, s := range l.segments {
			s.file.Close()
			s.closeIndexFiles()
		}
		return nil, err
	}
	if cfg.FlushPolicy == FlushInterval {
		l.startFlusher(cfg.FlushInterval)
	}
	return l, nil
}

// SetConfig applies a new config to an open log. Switching to FlushAlways never
// moves the high watermark back: data already visible stays visible.
func (l *Log) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	old := l.cfg
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
	if old.FlushPolicy == FlushInterval && (cfg.FlushPolicy != FlushInterval || cfg.FlushInterval != old.FlushInterval) {
		l.stopFlusher()
	}
	if cfg.FlushPolicy == FlushInterval && l.flusherStop == nil {
		l.startFlusher(cfg.FlushInterval)
	}
	if cfg.FlushPolicy != FlushAlways {
		l.notify(l.advanceHW(l.end.Load()))
	}
	return nil
}

// Append validates batch, assigns it the next offsets (writing the base offset into
// batch[0:8]) and writes it to the active segment with one write. It returns once
// the bytes are in the page cache; call Sync(LastOffset+1) for durability.
func (l *Log) Append(batch []byte) (AppendResult, error) {
	h, err := ParseBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	return l.AppendParsed(batch, h)
}

// AppendParsed is Append for a caller that has already validated batch:
// h must be what ParseBatch(batch) returned, so the CRC is not computed
// twice on the produce path.
func (l *Log) AppendParsed(batch []byte, h BatchHeader) (AppendResult, error) {
	l.appendMu.Lock()
	res, advanced, err := l.appendLocked(batch, h, false)
	l.appendMu.Unlock()
	l.appended(res, err)
	l.notify(advanced)
	return res, err
}

// appendLocked returns the new high watermark if it advanced, else -1.
// A follower's batch keeps its base offset and leader epoch (the leader's).
// REQUIRES: appendMu held.
func (l *Log) appendLocked(batch []byte, h BatchHeader, follower bool) (AppendResult, int64, error) {
	if l.closed.Load() {
		return AppendResult{}, -1, ErrClosed
	}
	if err := l.failure(); err != nil {
		return AppendResult{}, -1, err
	}
	advanced := int64(-1)
	s := l.segments[len(l.segments)-1]
	if l.shouldRoll(s, int64(len(batch)), h.LastOffsetDelta) {
		hw, err := l.rollLocked()
		if err != nil {
			return AppendResult{}, -1, err
		}
		advanced = hw
		s = l.segments[len(l.segments)-1]
	}

	if follower {
		if h.BaseOffset != s.next {
			return AppendResult{}, advanced, fmt.Errorf("%w: batch base offset %d, log end offset %d", ErrNotAtLogEnd, h.BaseOffset, s.next)
		}
	} else {
		h.BaseOffset, h.PartitionLeaderEpoch = s.next, l.leaderEpoch.Load()
		putBaseOffset(batch, h.BaseOffset)
		putLeaderEpoch(batch, h.PartitionLeaderEpoch)
	}
	if err := l.assignEpochLocked(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
		return AppendResult{}, advanced, err
	}
	pos := s.size
	end := pos + int64(len(batch))
	l.preallocate(s, end)
	if _, err := s.file.WriteAt(batch, pos); err != nil {
		// Drop whatever part landed so the next append starts at a batch boundary.
		// This also drops the preallocated space; the next append allocates again.
		if terr := s.file.Truncate(pos); terr != nil {
			l.logger.Error("cannot undo failed append", "segment", s.base, "err", terr)
			s.alloc = max(s.alloc, end) // unknown, but past the data: seal trims it
		} else {
			s.alloc = pos
		}
		return AppendResult{}, advanced, fmt.Errorf("log: append to %s: %w", s.file.Name(), err)
	}
	s.alloc = max(s.alloc, end)

	l.mu.Lock()
	s.track(h, pos, l.cfg.IndexIntervalBytes)
	l.end.Store(s.next)
	l.size.Add(h.Size())
	l.appends.Add(1)
	policy := l.cfg.FlushPolicy
	l.mu.Unlock()

	if err := s.persistIndexes(); err != nil {
		// The batch is safely written and the in-memory index is right; a bad index
		// file only costs a rebuild on the next open.
		l.logger.Error("index write failed; it will be rebuilt on next open", "segment", s.base, "err", err)
	}
	if policy != FlushAlways {
		if hw := l.advanceHW(s.next); hw >= 0 {
			advanced = hw
		}
	}
	return AppendResult{BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), MaxTimestamp: h.MaxTimestamp}, advanced, nil
}

// shouldRoll reports whether a batch of n bytes spanning lastDelta+1 offsets must
// go to a new segment. An empty segment is never rolled, so a batch larger than
// SegmentBytes still fits somewhere. Index entries hold offsets relative to the
// segment base in 32 bits, so a batch whose last offset would be more than
// MaxInt32 past the base starts a new segment (Kafka rolls on the same test); a
// single batch spans at most MaxInt32+1 offsets, so it always fits an empty one.
// REQUIRES: appendMu held.
func (l *Log) shouldRoll(s *segment, n int64, lastDelta int32) bool {
	if s.size == 0 {
		return false
	}
	if s.next+int64(lastDelta)-s.base > math.MaxInt32 {
		return true
	}
	if s.size+n > l.cfg.SegmentBytes {
		return true
	}
	return l.cfg.SegmentAge > 0 && l.now().Sub(s.rollBase) >= l.cfg.SegmentAge
}

// preallocate makes sure the active segment's file extends at least to end (the
// end of the batch about to be written) by extending it with fallocate up to the
// next multiple of preallocChunk, capped at SegmentBytes: an fsync after a write
// inside the file's size need not commit a new file size, which makes the
// group-commit fsync markedly cheaper. A batch that does not fit below
// SegmentBytes (the first, oversized batch of a segment) is written past the
// allocation as before. If fallocate fails (unsupported by the file system, or
// no space) preallocation is turned off for this log and appends extend the file
// as they did without it.
// REQUIRES: appendMu held.
func (l *Log) preallocate(s *segment, end int64) {
	if end <= s.alloc || l.preallocOff || end > l.cfg.SegmentBytes {
		return
	}
	target := min((end+preallocChunk-1)/preallocChunk*preallocChunk, l.cfg.SegmentBytes)
	f, ok := s.file.(*os.File)
	if !ok {
		// Not an OS file (a test's fault-injecting FS): no fallocate.
		l.preallocOff = true
		return
	}
	if err := fallocateFunc(f, s.alloc, target-s.alloc); err != nil {
		l.preallocOff = true
		l.logger.Debug("cannot preallocate log segment; appending without preallocation", "segment", s.base, "err", err)
		// A failed fallocate may have allocated part of the range.
		if st, serr := s.file.Stat(); serr == nil {
			s.alloc = max(s.alloc, st.Size())
		}
		return
	}
	s.alloc = target
}

// rollLocked seals the active segment (final time index entry, fsync of the log and
// its indexes), starts a new one at the log end offset and records the new
// recovery point. It returns the new high watermark if it advanced, else -1.
// REQUIRES: appendMu held.
func (l *Log) rollLocked() (int64, error) {
	old := l.segments[len(l.segments)-1]
	if err := l.seal(old); err != nil {
		return -1, err
	}
	if err := old.closeIndexFiles(); err != nil {
		return -1, err
	}
	s, err := createSegment(l.fs, l.dir, old.next, l.now())
	if err != nil {
		return -1, fmt.Errorf("log: roll: %w", err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return -1, err
	}
	l.mu.Lock()
	l.segments = append(l.segments, s)
	l.mu.Unlock()
	if err := l.checkpoint(recoveryPoint{offset: s.base, segment: s.base, position: 0}); err != nil {
		// Not fatal: an older recovery point only means a longer scan after a crash.
		l.logger.Warn("cannot write recovery point", "err", err)
	}
	l.logger.Debug("rolled segment", "old", old.base, "new", s.base)
	return l.markSynced(s.base), nil
}

// seal cuts s's file back to its data end (dropping preallocated space), writes
// the final time index entry and fsyncs its files.
// REQUIRES: appendMu held.
func (l *Log) seal(s *segment) error {
	if err := s.trim(); err != nil {
		return err
	}
	l.mu.Lock()
	s.addTimeEntry()
	l.mu.Unlock()
	if err := s.persistIndexes(); err != nil {
		return err
	}
	for _, f := range []vfs.File{s.file, s.indexFile, s.timeFile} {
		if f == nil {
			continue
		}
		if err := l.fsync(f); err != nil {
			return err
		}
	}
	return nil
}

// HighWatermark is the exclusive end offset readers may see: with FlushAlways the
// fsynced end, otherwise the log end.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// EndOffset is the log end offset: the offset the next appended record gets.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// StartOffset is the first offset still on disk.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// Size is the total size of the data in the segments in bytes: whole batches,
// not counting space preallocated past the end of the active segment.
func (l *Log) Size() int64 { return l.size.Load() }

// advanceHW raises the high watermark to hw (never lowers it) and returns hw if it
// moved, else -1.
func (l *Log) advanceHW(hw int64) int64 {
	for {
		cur := l.hw.Load()
		if hw <= cur {
			return -1
		}
		if l.hw.CompareAndSwap(cur, hw) {
			return hw
		}
	}
}

// appended calls OnAppend after a successful append.
// REQUIRES: no locks held.
func (l *Log) appended(res AppendResult, err error) {
	if err == nil && l.onAppend != nil {
		l.onAppend(res.LastOffset + 1)
	}
}

// notify calls OnAdvance for a high watermark returned by advanceHW. Calls from
// concurrent goroutines may arrive out of order; treat the value as a hint and
// read HighWatermark for the current one.
// REQUIRES: no locks held.
func (l *Log) notify(hw int64) {
	if hw >= 0 && l.onAdvance != nil {
		l.onAdvance(hw)
	}
}

// Close cuts the active segment's file back to its data end (dropping preallocated
// space), fsyncs everything, records the end as the recovery point and writes the
// clean-shutdown marker so the next Open skips the scan. The files are closed;
// Slices obtained before Close become unreadable.
func (l *Log) Close() error {
	l.closing.Store(true)
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return nil
	}
	l.stopFlusher()
	l.syncMu.Lock()
	for l.syncing {
		l.syncCond.Wait()
	}
	l.syncStop = true
	failed := l.syncErr
	l.syncMu.Unlock()
	l.checkpointWG.Wait()

	var errs []error
	active := l.segments[len(l.segments)-1]
	clean := failed == nil
	if err := l.seal(active); err != nil {
		errs = append(errs, err)
		clean = false
	}
	for _, s := range l.segments {
		if s.indexBroken {
			clean = false
		}
	}
	if clean {
		rp := recoveryPoint{offset: active.next, segment: active.base, position: active.size}
		if err := l.checkpoint(rp); err != nil {
			errs = append(errs, err)
		} else if err := writeCleanMarker(l.fs, l.dir); err != nil {
			errs = append(errs, err)
		}
	}
	l.mu.Lock()
	l.closed.Store(true)
	for _, s := range l.segments {
		errs = append(errs, s.closeIndexFiles(), s.file.Close())
	}
	l.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log: close %s: %w", l.dir, err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	err := l.Close()
	if rerr := os.RemoveAll(l.dir); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// AppendResult describes where an appended batch landed.
type AppendResult struct {
	BaseOffset, LastOffset int64
	MaxTimestamp           int64
}
