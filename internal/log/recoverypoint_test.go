package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Defect 9 of issue 7 (log half): under FlushAlways the recovery point moves
// with the group commit (at most once per checkpointEvery), so after a crash
// only the bytes written since the last checkpoint are CRC-scanned, not the
// whole active segment.
func TestRecoveryScansOnlyUnflushedTail(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig() // FlushAlways
	clock := newFakeClock()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	var batches [][]byte
	appendSynced := func(n int) {
		for range n {
			b := batchN(t, 3, clock.Now().UnixMilli())
			res := mustAppend(t, l, b)
			if err := l.Sync(res.LastOffset + 1); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
		}
	}
	appendSynced(50) // the first sync checkpoints at once
	clock.Advance(checkpointEvery / 2)
	appendSynced(50) // too soon: no checkpoint
	l.checkpointWG.Wait()
	if got := l.rpWritten.offset; got != 3 {
		t.Fatalf("recovery point %d after the first sync, want 3", got)
	}
	clock.Advance(checkpointEvery)
	appendSynced(100) // checkpoints at the first of these
	l.checkpointWG.Wait()
	rp := l.rpWritten
	if rp.offset != 303 || rp.segment != 0 {
		t.Fatalf("recovery point %+v, want offset 303 in segment 0", rp)
	}
	var tail int64
	for _, b := range batches[101:] {
		tail += int64(len(b))
	}
	crash(l)

	l = openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	if got := l.scannedBytes.Load(); got != tail {
		t.Fatalf("recovery CRC-scanned %d bytes, want only the %d written after the recovery point", got, tail)
	}
	got := readBatches(t, l)
	if len(got) != len(batches) {
		t.Fatalf("%d batches after recovery, want %d", len(got), len(batches))
	}
	for i := range batches {
		if !bytes.Equal(got[i], batches[i]) {
			t.Fatalf("batch %d changed", i)
		}
	}
	// Recovery leaves the recorded point alone (it is still a lower bound;
	// writing it cost three fsyncs per partition at restart) and the next
	// group commit records the recovered end and beyond.
	b, _ := os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if got, err := parseRecoveryPoint(b); err != nil || got != rp {
		t.Fatalf("recovery point after open: %+v %v, want the old %+v", got, err, rp)
	}
	clock.Advance(checkpointEvery)
	appendSynced(1)
	l.checkpointWG.Wait()
	b, _ = os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if got, err := parseRecoveryPoint(b); err != nil || got.offset != 603 || got.position != l.Size() {
		t.Fatalf("recovery point after the first sync: %+v %v, want offset 603 at %d", got, err, l.Size())
	}
}

// A recovery-point file in the old format (a bare offset) still works: the
// active segment is then validated from its start.
func TestRecoveryPointOldFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l, batches := buildLog(t, dir, cfg, 10)
	crash(l)
	if err := os.WriteFile(filepath.Join(dir, recoveryPointFile), []byte("4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if got := readBatches(t, l); len(got) != len(batches) || l.EndOffset() != 20 {
		t.Fatalf("%d batches, end %d after open with an old recovery point", len(got), l.EndOffset())
	}
	if l.scannedBytes.Load() != l.Size() {
		t.Fatalf("scanned %d bytes, want the whole segment (%d)", l.scannedBytes.Load(), l.Size())
	}
}

func TestParseRecoveryPoint(t *testing.T) {
	for in, want := range map[string]recoveryPoint{
		"12\n":        {offset: 12, segment: -1},
		"12 6 300\n":  {offset: 12, segment: 6, position: 300},
		" 0 0 0 \n\n": {offset: 0, segment: 0, position: 0},
	} {
		if got, err := parseRecoveryPoint([]byte(in)); err != nil || got != want {
			t.Errorf("parse %q = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1 2", "-1", "5 6 7", "1 0 -3"} {
		if _, err := parseRecoveryPoint([]byte(in)); err == nil {
			t.Errorf("parse %q: no error", in)
		}
	}
}
