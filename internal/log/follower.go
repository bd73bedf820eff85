package log

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrNotAtLogEnd is returned by AppendAsFollower for a batch that does not
// start at the log end offset: the replica must truncate or fetch from its
// own end offset instead.
var ErrNotAtLogEnd = errors.New("log: follower batch does not start at the log end offset")

// AppendAsFollower appends a batch copied from the partition's leader,
// keeping its base offset and leader epoch. The batch must start at the log
// end offset (ErrNotAtLogEnd otherwise) and carry an epoch no lower than the
// log's latest (ErrEpochOrder); its header and CRC are validated as Append
// does, but its records are not decoded again (the leader did, and a
// compacted leader batch may hold fewer records than its offset range).
func (l *Log) AppendAsFollower(batch []byte) (AppendResult, error) {
	h, err := parseStoredBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	return l.AppendFollowerParsed(batch, h)
}

// ParseFollowerBatch validates a batch copied from a leader as
// AppendAsFollower does, and returns its header and, for a control batch,
// its control type (ControlCommit, ControlAbort; else ControlNone).
func ParseFollowerBatch(batch []byte) (BatchHeader, int, error) {
	h, err := parseStoredBatch(batch)
	if err != nil {
		return h, ControlNone, err
	}
	control := ControlNone
	if h.Attributes&0x20 != 0 && h.Attributes&0x07 == 0 {
		control = controlTypeOf(batch[batchHeaderSize:])
	}
	return h, control, nil
}

// AppendFollowerParsed is AppendAsFollower for a batch ParseFollowerBatch
// has validated.
func (l *Log) AppendFollowerParsed(batch []byte, h BatchHeader) (AppendResult, error) {
	if h.PartitionLeaderEpoch < 0 {
		return AppendResult{}, fmt.Errorf("%w: batch at offset %d has no leader epoch (%d)", ErrEpochOrder, h.BaseOffset, h.PartitionLeaderEpoch)
	}
	l.appendMu.Lock()
	res, advanced, err := l.appendLocked(batch, h, true)
	l.appendMu.Unlock()
	l.appended(res, err)
	l.notify(advanced)
	return res, err
}

// RestartEmptyAt makes an empty log (start == end) begin at offset, for a
// new replica whose leader's log begins there (retention removed the
// offsets before it): the follower could not append the leader's first
// batch otherwise. The empty segments' files are removed first, then an
// empty segment at offset is created, so a crash in between leaves a log
// with no segment, which reopens empty at 0 as before. offset at or below
// the end does nothing; a log that holds records is refused (its owner
// truncates instead).
func (l *Log) RestartEmptyAt(offset int64) error {
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
	if offset <= end {
		return nil
	}
	if end != start {
		return fmt.Errorf("log: cannot restart at %d: the log holds offsets %d to %d", offset, start, end)
	}
	// Hold the group-commit role, as TruncateTo does, so no fsync or
	// checkpoint runs on the segments being replaced.
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

	old := l.segments
	for _, s := range old {
		for _, ext := range []string{logExt, indexExt, timeIndexExt} {
			if err := l.fs.Remove(s.path(ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: restart at %d: %w", offset, err)
			}
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		return fmt.Errorf("log: restart at %d: %w", offset, err)
	}
	s, err := createSegment(l.fs, l.dir, offset, l.now())
	if err != nil {
		return fmt.Errorf("log: restart at %d: %w", offset, err)
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		s.file.Close()
		s.closeIndexFiles()
		return fmt.Errorf("log: restart at %d: %w", offset, err)
	}
	if len(l.epochs) > 0 {
		// Epochs of offsets below the new start say nothing of its records.
		if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, encodeEpochs(nil)); err != nil {
			return fmt.Errorf("log: restart at %d: %w", offset, err)
		}
	}
	l.mu.Lock()
	l.segments = []*segment{s}
	l.epochs = nil
	l.start.Store(offset)
	l.end.Store(offset)
	l.hw.Store(offset)
	l.size.Store(0)
	l.mu.Unlock()
	l.syncMu.Lock()
	l.syncedEnd = offset
	l.syncMu.Unlock()
	for _, o := range old {
		o.closeIndexFiles()
		f := o.file
		time.AfterFunc(closeDelay, func() { f.Close() }) // readers may hold Slices
	}
	l.logger.Info("empty log restarted at the leader's log start", "offset", offset)
	return nil
}
