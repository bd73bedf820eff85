package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/vfs"
	"github.com/ferry-mq/ferry/internal/vfs/errorfs"
)

func truncateConfig() Config {
	cfg := testConfig()
	cfg.SegmentBytes = 300
	cfg.IndexIntervalBytes = 100
	return cfg
}

// buildEpochLog writes 12 batches of 2 records over several segments: batch
// i holds offsets [2i, 2i+2); epoch 0 covers [0, 8), epoch 1 [8, 16) and
// epoch 3 [16, 24).
func buildEpochLog(t *testing.T, dir string, opts Options) (*Log, [][]byte) {
	t.Helper()
	l := openLog(t, dir, truncateConfig(), opts)
	for i := 0; i < 12; i++ {
		switch i {
		case 4:
			l.SetLeaderEpoch(1)
		case 8:
			l.SetLeaderEpoch(3)
		}
		mustAppend(t, l, batchN(t, 2, int64(1000+i)))
	}
	if len(l.segments) < 4 {
		t.Fatalf("want several segments, got %d", len(l.segments))
	}
	return l, readBatches(t, l)
}

// epochsOf lists where each epoch begins in batches, as the checkpoint must.
func epochsOf(batches [][]byte) []EpochEntry {
	var out []EpochEntry
	for _, b := range batches {
		h := decodeHeader(b)
		if h.PartitionLeaderEpoch > latestEpoch(out) {
			out = append(out, EpochEntry{h.PartitionLeaderEpoch, h.BaseOffset})
		}
	}
	return out
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), logExt) || strings.HasSuffix(e.Name(), indexExt) || strings.HasSuffix(e.Name(), timeIndexExt) {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkPrefix checks that l holds exactly want, with a matching epoch
// checkpoint, end offset and high watermark.
func checkPrefix(t *testing.T, l *Log, want [][]byte) {
	t.Helper()
	got := readBatches(t, l)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("log holds %d batches, want %d (or they differ)", len(got), len(want))
	}
	end := int64(0)
	if n := len(want); n > 0 {
		end = decodeHeader(want[n-1]).LastOffset() + 1
	}
	if l.EndOffset() != end || l.HighWatermark() != end {
		t.Fatalf("end %d, high watermark %d, want %d", l.EndOffset(), l.HighWatermark(), end)
	}
	wantEpochs(t, l, epochsOf(want)...)
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	l, src := buildEpochLog(t, dir, logs.options())
	if err := l.TruncateTo(24); err != nil || l.EndOffset() != 24 {
		t.Fatalf("truncate to the end: %v, end %d", err, l.EndOffset())
	}
	if err := l.TruncateTo(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("truncate below the start: %v", err)
	}
	// 13 is inside batch [12, 14): the whole batch goes.
	if err := l.TruncateTo(13); err != nil {
		t.Fatal(err)
	}
	checkPrefix(t, l, src[:6])
	if len(logs.lines("WARN", "truncating log", "from=24", "to=12")) != 1 {
		t.Fatal("truncation not logged at WARN with what it removed")
	}
	for _, name := range segmentFiles(t, dir) {
		if base, _ := parseBase(strings.TrimSuffix(name, filepath.Ext(name))); base > 12 {
			t.Fatalf("segment file %s past the new end left behind", name)
		}
	}
	if e, o := l.EndOffsetForEpoch(1); e != 1 || o != 12 {
		t.Fatalf("EndOffsetForEpoch(1) after truncation = (%d, %d), want (1, 12)", e, o)
	}

	// Appends continue at the new end, with the current epoch.
	next := mustAppend(t, l, batchN(t, 3, 2000))
	if next.BaseOffset != 12 {
		t.Fatalf("append after truncation at %d, want 12", next.BaseOffset)
	}
	want := append(append([][]byte(nil), src[:6]...), readBatches(t, l)[6])
	checkPrefix(t, l, want)

	// Both a clean reopen and a crash keep exactly that.
	l.Close()
	l = openLog(t, dir, truncateConfig(), Options{})
	checkPrefix(t, l, want)
	crash(l)
	l = openLog(t, dir, truncateConfig(), Options{})
	checkPrefix(t, l, want)

	// At an epoch boundary, then everything.
	if err := l.TruncateTo(8); err != nil {
		t.Fatal(err)
	}
	checkPrefix(t, l, src[:4])
	if err := l.TruncateTo(0); err != nil {
		t.Fatal(err)
	}
	checkPrefix(t, l, nil)
	if res := mustAppend(t, l, batchN(t, 1, 1)); res.BaseOffset != 0 {
		t.Fatalf("append into the emptied log at %d", res.BaseOffset)
	}
	l.Close()
	l = openLog(t, dir, truncateConfig(), Options{})
	defer l.Close()
	if l.EndOffset() != 1 || len(readBatches(t, l)) != 1 {
		t.Fatalf("reopened emptied log: end %d", l.EndOffset())
	}
}

// A crash at any step of TruncateTo leaves a log that recovers to a prefix
// of the old one, at least as long as the truncated one, whose epoch
// checkpoint describes its batches; truncating it again finishes the job.
func TestTruncateToCrashPoints(t *testing.T) {
	for _, point := range []string{"recovery-point", "damaged-ranges", "segments-removed", "cut", "epochs"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			l, src := buildEpochLog(t, dir, Options{})
			l.Close() // the recovery point at the end: recovery trusts it
			l = openLog(t, dir, truncateConfig(), Options{})
			l.truncateCrashPoint = point
			if err := l.TruncateTo(13); !errors.Is(err, errTruncateCrash) {
				t.Fatalf("TruncateTo: %v", err)
			}
			if _, err := l.Append(batchN(t, 1, 1)); err == nil {
				t.Fatal("append accepted after a failed truncation")
			}
			crash(l)

			l = openLog(t, dir, truncateConfig(), Options{})
			got := readBatches(t, l)
			if len(got) < 6 || !reflect.DeepEqual(got, src[:len(got)]) {
				t.Fatalf("recovered %d batches, not a prefix of the %d old ones at least 6 long", len(got), len(src))
			}
			checkPrefix(t, l, got)
			if err := l.TruncateTo(13); err != nil {
				t.Fatal(err)
			}
			checkPrefix(t, l, src[:6])
			crash(l)
			l = openLog(t, dir, truncateConfig(), Options{})
			defer l.Close()
			checkPrefix(t, l, src[:6])
		})
	}
}

// A file operation failing part-way (a segment that cannot be removed)
// leaves the log refusing appends until it is reopened, and the reopened log
// is consistent.
func TestTruncateToFaultPoisons(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New(vfs.Default)
	l, src := buildEpochLog(t, dir, Options{FS: fs})
	fs.Add(errorfs.Rule{Op: errorfs.OpRemove, Path: suffix(logExt), Skip: 1})
	if err := l.TruncateTo(3); err == nil {
		t.Fatal("TruncateTo succeeded over a failed remove")
	}
	if _, err := l.Append(batchN(t, 1, 1)); err == nil {
		t.Fatal("append accepted after a failed truncation")
	}
	fs.Reset()
	l.Close()
	l = openLog(t, dir, truncateConfig(), Options{FS: fs})
	defer l.Close()
	got := readBatches(t, l)
	if len(got) < 1 || !reflect.DeepEqual(got, src[:len(got)]) {
		t.Fatalf("recovered %d batches, not a prefix of the old ones", len(got))
	}
	checkPrefix(t, l, got)
	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	checkPrefix(t, l, src[:1])
}

// Damaged ranges past the cut are forgotten, in memory and in the file.
func TestTruncateToDropsDamagedRanges(t *testing.T) {
	dir := t.TempDir()
	l, src := buildEpochLog(t, dir, Options{})
	second := l.segments[1]
	name, pos := second.path(logExt), int64(0)
	l.Close()
	// Corrupt a record byte of the first batch of the second segment.
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[pos+batchHeaderSize+2] ^= 0xff
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, cleanMarkerFile))
	os.Remove(filepath.Join(dir, recoveryPointFile))
	l = openLog(t, dir, truncateConfig(), Options{})
	defer l.Close()
	if len(l.Damaged()) != 1 {
		t.Fatalf("damaged ranges %v, want one", l.Damaged())
	}
	cut := decodeHeader(src[0]).LastOffset() + 1 // before the damage
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if len(l.Damaged()) != 0 {
		t.Fatalf("damaged ranges %v after truncating below them", l.Damaged())
	}
	if _, err := os.Stat(filepath.Join(dir, damagedFile)); !os.IsNotExist(err) {
		t.Fatalf("damaged-ranges file still there: %v", err)
	}
	if !bytes.Equal(readBatches(t, l)[0], src[0]) {
		t.Fatal("kept batch changed")
	}
}

// TxnIndex.TruncateTo forgets transactions aborted at or past the cut.
func TestTxnIndexTruncateTo(t *testing.T) {
	dir := t.TempDir()
	x, err := OpenTxnIndex(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		base int64
		AbortedTxn
	}{{0, AbortedTxn{1, 2, 5}}, {0, AbortedTxn{2, 3, 9}}, {10, AbortedTxn{3, 11, 12}}} {
		if err := x.Add(e.base, e.AbortedTxn); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.TruncateTo(9); err != nil {
		t.Fatal(err)
	}
	if got := x.Aborted(0, 100); !reflect.DeepEqual(got, []AbortedTxn{{1, 2, 5}}) {
		t.Fatalf("after truncation: %v", got)
	}
	y, err := OpenTxnIndex(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Aborted(0, 100); !reflect.DeepEqual(got, []AbortedTxn{{1, 2, 5}}) {
		t.Fatalf("reopened: %v", got)
	}
	if _, err := os.Stat(segmentPath(dir, 10, txnIndexExt)); !os.IsNotExist(err) {
		t.Fatalf("emptied txn index file still there: %v", err)
	}
}
