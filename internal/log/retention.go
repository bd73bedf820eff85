package log

import (
	"errors"
	"os"
	"time"
)

// EnforceRetention deletes whole segments from the oldest, following Kafka's rules:
// first those whose newest timestamp is older than now-RetentionAge (stopping at the
// first that is not), then more while the total size minus the oldest segment is
// still >= RetentionBytes. The active segment is never deleted; if it has expired by
// time and is not empty it is rolled first so it can go in the same pass. Files of
// deleted segments are unlinked at once but closed only after closeDelay, because a
// reader may still be sending from a Slice it took earlier.
//
// Retention applies only when the cleanup policy includes delete.
func (l *Log) EnforceRetention() (deletedSegments int, err error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.appendMu.Lock()
	if l.closed.Load() {
		l.appendMu.Unlock()
		return 0, ErrClosed
	}
	victims, advanced, err := l.retentionVictimsLocked()
	if len(victims) > 0 {
		var freed int64
		l.mu.Lock()
		l.segments = l.segments[len(victims):]
		l.start.Store(l.segments[0].base)
		for _, s := range victims {
			freed += s.size
		}
		l.size.Add(-freed)
		l.mu.Unlock()
		if eerr := l.dropEpochsBelowLocked(l.segments[0].base); eerr != nil {
			// Entries below the start are harmless; the next retention retries.
			l.logger.Warn("cannot record leader epochs after retention", "err", eerr)
		}
	}
	l.appendMu.Unlock()
	l.notify(advanced)

	// Unlinking can be slow for big files; no lock is needed since the segments
	// are no longer reachable and offsets never repeat.
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range victims {
		l.logger.Info("deleting segment by retention", "segment", s.base, "end", s.next, "bytes", s.size)
		for _, ext := range []string{logExt, indexExt, timeIndexExt} {
			if rerr := s.fs.Remove(s.path(ext)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				errs = append(errs, rerr)
			}
		}
		f := s.file
		time.AfterFunc(closeDelay, func() { f.Close() })
	}
	return len(victims), errors.Join(errs...)
}

// retentionVictimsLocked picks the oldest segments to delete. It may roll the
// active segment, and then returns the high watermark the roll advanced to (or -1).
// REQUIRES: appendMu held.
func (l *Log) retentionVictimsLocked() ([]*segment, int64, error) {
	cfg := l.cfg
	advanced := int64(-1)
	if !cfg.CleanupPolicy.Deletes() {
		return nil, advanced, nil
	}
	n := 0 // segments[:n] are to be deleted
	if cfg.RetentionAge >= 0 {
		now := l.now()
		cutoff := now.Add(-cfg.RetentionAge).UnixMilli()
		for n < len(l.segments) && l.expired(l.segments[n], cutoff) {
			if n == len(l.segments)-1 {
				if l.segments[n].size == 0 {
					break
				}
				hw, err := l.rollLocked()
				if err != nil {
					return l.segments[:n], advanced, err
				}
				advanced = hw
			}
			n++
		}
	}
	if cfg.RetentionBytes >= 0 {
		total := l.size.Load()
		for _, s := range l.segments[:n] {
			total -= s.size
		}
		for n < len(l.segments)-1 && total-l.segments[n].size >= cfg.RetentionBytes {
			total -= l.segments[n].size
			n++
		}
	}
	return l.segments[:n:n], advanced, nil
}

// expired reports whether every batch in s is older than cutoff (Unix ms). A
// segment without timestamps falls back to its file's modification time.
func (l *Log) expired(s *segment, cutoff int64) bool {
	if s.size == 0 {
		return false
	}
	ts := s.maxTs
	if ts < 0 {
		st, err := s.file.Stat()
		if err != nil {
			return false
		}
		ts = st.ModTime().UnixMilli()
	}
	return ts < cutoff
}
