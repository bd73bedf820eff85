package log

import (
	"fmt"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Sync blocks until every offset below upTo is fsynced (offsets past the log end
// are clamped to it). With FlushAlways it implements group commit: if an fsync is
// running, wait for it; then one fsync covers every append that arrived meanwhile.
// The append mutex is not held during the fsync. With the other policies it returns
// at once: durability is left to the background flusher or the OS.
func (l *Log) Sync(upTo int64) error {
	l.mu.RLock()
	policy := l.cfg.FlushPolicy
	l.mu.RUnlock()
	if policy != FlushAlways {
		return nil
	}
	return l.syncTo(upTo)
}

// syncTo is the group commit. Whoever finds no fsync running becomes the leader:
// it snapshots the end offset and the active segment, fsyncs without any lock, then
// publishes the synced end and wakes the waiters. Waiters whose offsets are covered
// return; the others elect the next leader. Older segments need no fsync here:
// they were fsynced when they were rolled.
func (l *Log) syncTo(upTo int64) error {
	if end := l.end.Load(); upTo > end {
		upTo = end
	}
	l.syncMu.Lock()
	for {
		if l.syncErr != nil {
			err := l.syncErr
			l.syncMu.Unlock()
			return err
		}
		if l.syncedEnd >= upTo {
			l.syncMu.Unlock()
			return nil
		}
		if upTo > l.end.Load() {
			// TruncateTo removed offsets this caller waits for (the end only
			// moves back there): they will never be durable.
			l.syncMu.Unlock()
			return fmt.Errorf("%w: waiting for offset %d, log end now %d", ErrTruncated, upTo, l.end.Load())
		}
		if l.syncStop {
			l.syncMu.Unlock()
			return ErrClosed
		}
		if !l.syncing {
			break
		}
		l.syncCond.Wait()
	}
	l.syncing = true
	l.syncMu.Unlock()

	l.mu.RLock()
	target := l.end.Load()
	appends := l.appends.Load()
	active := l.segments[len(l.segments)-1]
	f := active.file
	rp := recoveryPoint{offset: target, segment: active.base, position: active.size}
	l.mu.RUnlock()
	err := l.fsync(f)

	l.syncMu.Lock()
	l.syncing = false
	advanced := int64(-1)
	covered := appends - l.syncedAppends
	if err == nil && appends > l.syncedAppends {
		l.syncedAppends = appends
	}
	if err == nil && target > l.syncedEnd {
		l.syncedEnd = target
		// Publish before waking the waiters: Sync's contract is that the
		// high watermark covers upTo when it returns.
		advanced = l.advanceHW(target)
		if !l.syncStop {
			l.checkpointAfterSync(rp)
		}
	}
	l.syncCond.Broadcast()
	l.syncMu.Unlock()
	if err != nil {
		return err
	}
	if l.onGroupCommit != nil && covered > 0 {
		l.onGroupCommit(covered)
	}
	l.notify(advanced)
	return nil
}

// markSynced records that every offset below end is durable (after a roll) and
// returns the new high watermark if it advanced, else -1.
func (l *Log) markSynced(end int64) int64 {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if end <= l.syncedEnd {
		return -1
	}
	l.syncedEnd = end
	l.syncCond.Broadcast()
	return l.advanceHW(end)
}

// fsync syncs f. A failed fsync poisons the log: the kernel may have dropped the
// dirty pages and a later fsync could succeed without them, so nothing written
// since the last good fsync can be called durable. Appends and Syncs then fail
// until the log is reopened, which re-validates the tail.
func (l *Log) fsync(f vfs.File) error {
	l.fsyncs.Add(1)
	var start time.Time
	if l.onFsync != nil {
		start = time.Now()
	}
	err := f.Sync()
	if l.onFsync != nil {
		l.onFsync(time.Since(start))
	}
	if err != nil {
		err = fmt.Errorf("log: fsync %s: %w", f.Name(), err)
		l.logger.Error("fsync failed; log is read-only until reopened", "err", err)
		l.syncMu.Lock()
		if l.syncErr == nil {
			l.syncErr = err
		}
		l.syncMu.Unlock()
		return err
	}
	return nil
}

// failure returns the sticky fsync error, if any.
func (l *Log) failure() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.syncErr
}

// startFlusher runs the FlushInterval background fsync.
// REQUIRES: appendMu held (or exclusive access in Open).
func (l *Log) startFlusher(every time.Duration) {
	stop, done := make(chan struct{}), make(chan struct{})
	l.flusherStop, l.flusherDone = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// Errors are logged by fsync and poison the log; keep ticking so
				// the failure stays visible in the logs.
				_ = l.syncTo(l.end.Load())
			}
		}
	}()
}

// stopFlusher stops the background fsync and waits for it to exit.
// REQUIRES: appendMu held.
func (l *Log) stopFlusher() {
	if l.flusherStop == nil {
		return
	}
	close(l.flusherStop)
	<-l.flusherDone
	l.flusherStop, l.flusherDone = nil, nil
}
