package log

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-mq/ferry/internal/vfs"
	"github.com/ferry-mq/ferry/internal/vfs/errorfs"
)

func suffix(s string) func(string) bool {
	return func(p string) bool { return strings.HasSuffix(p, s) }
}

// appendSynced appends n batches and syncs each: what a producer with acks=all
// gets acknowledged.
func appendSynced(t *testing.T, l *Log, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		b := batchN(t, 2, int64(100+i))
		res := mustAppend(t, l, b)
		if err := l.Sync(res.LastOffset + 1); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		out = append(out, b)
	}
	return out
}

func holdsAcked(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%d batches, want at least %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d changed", i)
		}
	}
}

// After a failed fsync the log is poisoned: nothing more is reported durable,
// appends and syncs fail until it is reopened, and reopening loses nothing
// that was acknowledged.
func TestFaultFsyncPoisonsLog(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	cfg := DefaultConfig()
	var logs logBuffer
	opts := logs.options()
	opts.FS = fs
	l := openLog(t, dir, cfg, opts)
	acked := appendSynced(t, l, 5)
	hw := l.HighWatermark()

	fs.Add(errorfs.Rule{Op: errorfs.OpSync, Path: suffix(logExt)})
	res := mustAppend(t, l, batchN(t, 2, 1))
	if err := l.Sync(res.LastOffset + 1); err == nil {
		t.Fatal("Sync succeeded over a failed fsync")
	}
	if l.HighWatermark() != hw {
		t.Fatalf("high watermark moved to %d over a failed fsync", l.HighWatermark())
	}
	fs.Reset() // a later fsync would succeed, but must not be trusted
	if _, err := l.Append(batchN(t, 1, 1)); err == nil {
		t.Fatal("append accepted by a poisoned log")
	}
	if err := l.Sync(l.EndOffset()); err == nil {
		t.Fatal("Sync succeeded on a poisoned log")
	}
	if l.HighWatermark() != hw {
		t.Fatalf("high watermark moved to %d on a poisoned log", l.HighWatermark())
	}
	if len(logs.lines("ERROR", "fsync failed")) == 0 {
		t.Fatal("failed fsync not logged at ERROR")
	}
	l.Close()

	l = openLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	holdsAcked(t, readBatches(t, l), acked)
	mustAppend(t, l, batchN(t, 1, 1))
}

// A write that runs out of space half-way leaves no partial batch: the next
// append starts at a batch boundary and a reopen loses nothing acknowledged.
func TestFaultShortWriteENOSPC(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	cfg := DefaultConfig()
	l := openLog(t, dir, cfg, Options{FS: fs})
	acked := appendSynced(t, l, 3)

	fs.Add(errorfs.Rule{Op: errorfs.OpWrite, Path: suffix(logExt), Err: errorfs.ENOSPC, Short: true, Times: 1})
	if _, err := l.Append(batchN(t, 2, 1)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", err)
	}
	if fs.Injected() != 1 {
		t.Fatalf("%d errors injected, want 1", fs.Injected())
	}
	acked = append(acked, appendSynced(t, l, 2)...)
	if l.EndOffset() != 10 {
		t.Fatalf("end %d, want 10: the failed append must not take offsets", l.EndOffset())
	}
	holdsAcked(t, readBatches(t, l), acked)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	got := readBatches(t, l)
	holdsAcked(t, got, acked)
	if len(got) != len(acked) {
		t.Fatalf("%d batches after reopen, want %d", len(got), len(acked))
	}
}

// A failed rename of the recovery-point file (roll, Close) is not fatal: Close
// reports it and leaves no clean-shutdown marker, so the next open validates
// the tail, and nothing is lost.
func TestFaultRecoveryPointRenameFails(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	cfg := DefaultConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	var logs logBuffer
	opts := logs.options()
	opts.FS = fs
	l := openLog(t, dir, cfg, opts)
	fs.Add(errorfs.Rule{Op: errorfs.OpRename, Path: suffix(recoveryPointFile + ".tmp")})
	acked := appendSynced(t, l, 7) // rolls twice
	if len(logs.lines("WARN", "recovery point")) == 0 {
		t.Fatal("failed recovery-point write not logged")
	}
	if err := l.Close(); err == nil {
		t.Fatal("Close hid a failed recovery-point write")
	}
	fs.Reset()
	l = openLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	if l.scannedSegments.Load() == 0 {
		t.Fatal("open after a failed Close skipped validation")
	}
	got := readBatches(t, l)
	holdsAcked(t, got, acked)
	if len(got) != len(acked) {
		t.Fatalf("%d batches, want %d", len(got), len(acked))
	}
}

// A failed index write costs a rebuild on the next open, no data.
func TestFaultIndexWriteFails(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 0
	var logs logBuffer
	opts := logs.options()
	opts.FS = fs
	l := openLog(t, dir, cfg, opts)
	acked := appendSynced(t, l, 2)
	fs.Add(errorfs.Rule{Op: errorfs.OpWrite, Path: suffix(indexExt)})
	acked = append(acked, appendSynced(t, l, 3)...)
	if len(logs.lines("ERROR", "index write failed")) == 0 {
		t.Fatal("failed index write not logged")
	}
	fs.Reset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	if l.scannedSegments.Load() != 1 {
		t.Fatalf("scanned %d segments, want the active one rebuilt", l.scannedSegments.Load())
	}
	if n := len(l.segments[0].index); n != 5 {
		t.Fatalf("rebuilt index has %d entries, want 5", n)
	}
	got := readBatches(t, l)
	holdsAcked(t, got, acked)
	if len(got) != len(acked) {
		t.Fatalf("%d batches, want %d", len(got), len(acked))
	}
}

// Compaction writes a cleaned segment's indexes atomically after the commit
// rename; if that rename fails, the index is rebuilt on the next open and
// nothing is lost.
func TestFaultCompactionIndexRenameFails(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	clock := newFakeClock()
	var logs logBuffer
	opts := logs.options()
	opts.FS, opts.Now = fs, clock.Now
	l := openLog(t, dir, compactConfig(), opts)
	var m model
	ts := clock.Now().UnixMilli()
	for i := range 60 {
		m.append(t, l, []kv{put(fmt.Sprintf("k%d", i%5), fmt.Sprintf("v%d", i))}, ts+int64(i), codecNone)
	}
	end := activeBase(l)
	fs.Add(errorfs.Rule{Op: errorfs.OpRename, Path: suffix(indexExt + ".tmp")})
	st, err := l.Compact(clock.Now())
	if err != nil || st.Rewritten == 0 {
		t.Fatalf("Compact: %+v, %v", st, err)
	}
	if len(logs.lines("WARN", "cannot write index")) == 0 {
		t.Fatal("failed index write not logged")
	}
	want := m.expect(end, 0)
	got, _ := readRecords(t, l)
	sameRecords(t, got, want)
	fs.Reset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, compactConfig(), Options{FS: fs, Now: clock.Now})
	defer l.Close()
	if l.scannedSegments.Load() == 0 {
		t.Fatal("missing indexes not rebuilt")
	}
	got, _ = readRecords(t, l)
	sameRecords(t, got, want)
}

// Opening a log after a crash writes no recovery point: a restart opens every
// partition at once and the file's temp write, rename and dir fsync were most
// of its cost. The old point stays valid; the next group commit records the
// new one, and a crash before it re-validates the same tail, losing nothing.
func TestCrashRecoveryOpenLeavesRecoveryPointToGroupCommit(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	l := openLog(t, dir, cfg, Options{})
	acked := appendSynced(t, l, 5)
	crash(l)

	fs := errorfs.New(vfs.Default)
	fs.Add(errorfs.Rule{Op: errorfs.OpWrite, Path: suffix(recoveryPointFile + ".tmp")})
	l = openLog(t, dir, cfg, Options{FS: fs}) // before: open failed writing the recovery point
	holdsAcked(t, readBatches(t, l), acked)
	crash(l)

	fs.Reset()
	l = openLog(t, dir, cfg, Options{FS: fs})
	defer l.Close()
	got := readBatches(t, l)
	holdsAcked(t, got, acked)
	if len(got) != len(acked) {
		t.Fatalf("%d batches after two crashes, want %d", len(got), len(acked))
	}
}
