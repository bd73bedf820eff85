package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// leaderEpochFile is the leader-epoch checkpoint (see "Leader epochs" in doc.go).
const leaderEpochFile = "leader-epoch-checkpoint"

// UndefinedEpoch is the epoch (and offset) EndOffsetForEpoch answers when it
// knows nothing about the requested epoch, as Kafka's UNDEFINED_EPOCH(_OFFSET).
const UndefinedEpoch = -1

// EpochEntry says that the batches from StartOffset on (up to the next entry's
// StartOffset) were written by the leader of Epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

func encodeEpochs(entries []EpochEntry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return []byte(b.String())
}

// decodeEpochs parses a checkpoint and checks that epochs and start offsets
// both increase: anything else is a damaged file.
func decodeEpochs(data []byte) ([]EpochEntry, error) {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return nil, fmt.Errorf("leader-epoch checkpoint: want version 0 and a count, got %q", truncateForLog(data))
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, fmt.Errorf("leader-epoch checkpoint: count %q does not match %d entries", lines[1], len(lines)-2)
	}
	out := make([]EpochEntry, 0, n)
	for i, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("leader-epoch checkpoint: entry %d: %q", i, line)
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 32)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, fmt.Errorf("leader-epoch checkpoint: entry %d: %q", i, line)
		}
		e := EpochEntry{int32(epoch), start}
		if k := len(out); k > 0 && (e.Epoch <= out[k-1].Epoch || e.StartOffset <= out[k-1].StartOffset) {
			return nil, fmt.Errorf("leader-epoch checkpoint: entry %d (%d %d) does not follow (%d %d)",
				i, e.Epoch, e.StartOffset, out[k-1].Epoch, out[k-1].StartOffset)
		}
		out = append(out, e)
	}
	return out, nil
}

func truncateForLog(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// readEpochs reads the checkpoint; a missing file gives os.ErrNotExist.
func readEpochs(fs vfs.FS, dir string) ([]EpochEntry, error) {
	b, err := vfs.ReadFile(fs, filepath.Join(dir, leaderEpochFile))
	if err != nil {
		return nil, err
	}
	return decodeEpochs(b)
}

// SetLeaderEpoch sets the epoch that Append stamps into every batch from now
// on (the partition's owner calls it when this replica becomes leader; a
// single node keeps 0). It may not go below the latest epoch the log holds:
// epochs in a log only increase.
func (l *Log) SetLeaderEpoch(e int32) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	latest := latestEpoch(l.epochs)
	l.mu.RUnlock()
	if e < 0 || e < latest {
		return fmt.Errorf("log: leader epoch %d is below the latest epoch %d in the log", e, latest)
	}
	l.leaderEpoch.Store(e)
	return nil
}

// LeaderEpoch is the epoch Append stamps into batches.
func (l *Log) LeaderEpoch() int32 { return l.leaderEpoch.Load() }

// LeaderEpochs returns a copy of the epoch checkpoint's entries.
func (l *Log) LeaderEpochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]EpochEntry(nil), l.epochs...)
}

func latestEpoch(entries []EpochEntry) int32 {
	if n := len(entries); n > 0 {
		return entries[n-1].Epoch
	}
	return UndefinedEpoch
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-279): for the
// requested epoch, the largest epoch the log knows at or below it and the
// offset where that epoch's batches end (the start of the next higher epoch,
// or the log end offset for the current epoch). The current leader epoch
// counts as known even before its first batch (Kafka records it when the
// replica becomes leader), starting at the log end. As in Kafka, an epoch
// below every known one answers (requested, start of the first known epoch),
// and an epoch above every known one, or -1, answers (-1, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	l.mu.RLock()
	entries := l.epochs
	end := l.end.Load()
	l.mu.RUnlock()
	if cur := l.leaderEpoch.Load(); cur > latestEpoch(entries) {
		entries = append(entries[:len(entries):len(entries)], EpochEntry{cur, end})
	}
	if epoch == UndefinedEpoch || len(entries) == 0 {
		return UndefinedEpoch, UndefinedEpoch
	}
	if epoch == entries[len(entries)-1].Epoch {
		return epoch, end
	}
	higher := sort.Search(len(entries), func(i int) bool { return entries[i].Epoch > epoch })
	switch {
	case higher == len(entries):
		return UndefinedEpoch, UndefinedEpoch
	case higher == 0:
		return epoch, entries[0].StartOffset
	default:
		return entries[higher-1].Epoch, entries[higher].StartOffset
	}
}

// assignEpochLocked makes sure the checkpoint records epoch as starting at
// offset before a batch of that epoch is written there, so that every batch
// on disk has its epoch in the file (a crash may leave an entry past the log
// end, which recovery drops). An epoch below the latest is refused.
// REQUIRES: appendMu held.
func (l *Log) assignEpochLocked(epoch int32, offset int64) error {
	// Entries at or past offset were written before batches that never
	// landed (a failed write): they describe nothing on disk.
	kept := len(l.epochs)
	for kept > 0 && l.epochs[kept-1].StartOffset >= offset {
		kept--
	}
	latest := latestEpoch(l.epochs[:kept])
	switch {
	case epoch == latest && kept == len(l.epochs):
		return nil
	case epoch < latest:
		return fmt.Errorf("%w: batch at offset %d has leader epoch %d, below the log's latest epoch %d",
			ErrEpochOrder, offset, epoch, latest)
	}
	next := l.epochs[:kept:kept]
	if epoch > latest {
		next = append(next, EpochEntry{epoch, offset})
	}
	if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, encodeEpochs(next)); err != nil {
		return err
	}
	l.mu.Lock()
	l.epochs = next
	l.mu.Unlock()
	return nil
}

// ErrEpochOrder reports a batch whose leader epoch is below one already in the log.
var ErrEpochOrder = errors.New("log: leader epoch goes backwards")

// putLeaderEpoch stamps a batch's partitionLeaderEpoch field, which the CRC
// does not cover.
func putLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// noteScannedEpoch records the epoch of a batch that recovery validated, so
// that recover can add epochs the checkpoint lacks.
// REQUIRES: exclusive access (called from Open).
func (l *Log) noteScannedEpoch(h BatchHeader) {
	if h.PartitionLeaderEpoch < 0 || h.BaseOffset < l.epochTailFrom {
		// Before the recovery point the checkpoint is complete; batches
		// there may also predate stamping and hold a producer's value.
		return
	}
	if n := len(l.scannedEpochs); n == 0 || h.PartitionLeaderEpoch > l.scannedEpochs[n-1].Epoch {
		l.scannedEpochs = append(l.scannedEpochs, EpochEntry{h.PartitionLeaderEpoch, h.BaseOffset})
	}
}

// recoverEpochs loads the checkpoint after the segments were recovered: it
// drops entries at or past the log end (written just before a batch that a
// crash lost) and adds epochs found in the batches recovery validated. A
// damaged file is rebuilt from the headers of every batch; a missing one
// means a log from before epochs (see doc.go).
// REQUIRES: exclusive access (called from Open), segments loaded.
func (l *Log) recoverEpochs() error {
	entries, err := readEpochs(l.fs, l.dir)
	end := l.segments[len(l.segments)-1].next
	rebuilt := false
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Every batch of an epoch is written after the file records it, so
		// a log with batches and no file was written before leader epochs
		// were stamped, by a single node: its batches hold whatever the
		// producers sent there, not epochs. Count them all as epoch 0.
		l.scannedEpochs = nil
		if start := l.segments[0].base; end > start {
			l.logger.Info("no leader-epoch checkpoint: the log predates leader epochs; counting its batches as epoch 0", "start", start, "end", end)
			entries, rebuilt = []EpochEntry{{0, start}}, true
		}
	case err != nil:
		l.logger.Warn("leader-epoch checkpoint unreadable; rebuilding it from the batch headers", "err", err)
		entries, rebuilt = l.walkEpochs(), true
	}
	kept := sort.Search(len(entries), func(i int) bool { return entries[i].StartOffset >= end })
	changed := rebuilt || kept < len(entries)
	entries = entries[:kept]
	for _, e := range l.scannedEpochs {
		if e.StartOffset < end && e.Epoch > latestEpoch(entries) && (len(entries) == 0 || e.StartOffset > entries[len(entries)-1].StartOffset) {
			entries = append(entries, e)
			changed = true
		}
	}
	l.scannedEpochs = nil
	l.epochs = entries
	l.leaderEpoch.Store(max(latestEpoch(entries), 0))
	if !changed {
		return nil
	}
	if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, encodeEpochs(entries)); err != nil {
		return fmt.Errorf("log: record leader epochs: %w", err)
	}
	return nil
}

// walkEpochs reads the header of every batch in the log (not the records)
// and returns where each epoch begins.
func (l *Log) walkEpochs() []EpochEntry {
	var out []EpochEntry
	var buf [batchHeaderSize]byte
	for _, s := range l.segments {
		for pos := int64(0); pos < s.size; {
			if d, ok := damagedFrom(s.damaged, pos); ok {
				pos = d.Position + d.Length
				continue
			}
			h, err := readHeader(s.file, pos, s.size, &buf)
			if err != nil {
				// Not validated here (a clean open reads no batches); the
				// epochs after it are still found in the later segments.
				l.logger.Warn("cannot read batch header while rebuilding leader epochs; skipping the rest of the segment",
					"segment", s.base, "position", pos, "err", err)
				break
			}
			if e := h.PartitionLeaderEpoch; e >= 0 && e > latestEpoch(out) {
				out = append(out, EpochEntry{e, h.BaseOffset})
			}
			pos += h.Size()
		}
	}
	return out
}

// dropEpochsBelowLocked forgets epochs that ended before start (the new log
// start after retention) and moves the start of the epoch holding it up to
// start, as Kafka's truncateFromStart does.
// REQUIRES: appendMu held.
func (l *Log) dropEpochsBelowLocked(start int64) error {
	k := sort.Search(len(l.epochs), func(i int) bool { return l.epochs[i].StartOffset > start }) - 1
	if k < 0 || k == 0 && l.epochs[0].StartOffset == start {
		return nil
	}
	next := append([]EpochEntry{{l.epochs[k].Epoch, start}}, l.epochs[k+1:]...)
	if err := writeFileAtomic(l.fs, l.dir, leaderEpochFile, encodeEpochs(next)); err != nil {
		return err
	}
	l.mu.Lock()
	l.epochs = next
	l.mu.Unlock()
	return nil
}
