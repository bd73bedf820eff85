package log

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNewLogSkipsRecoveryWritesAndStillRecovers: opening a new, empty log
// writes no recovery point (a missing one means "scan from the start"), and
// a crash after appends to it loses nothing that was synced.
func TestNewLogSkipsRecoveryWritesAndStillRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p-0")
	cfg := testConfig()
	cfg.FlushPolicy = FlushAlways
	l := openLog(t, dir, cfg, Options{})
	if _, err := os.Stat(filepath.Join(dir, recoveryPointFile)); !os.IsNotExist(err) {
		t.Fatalf("a new log wrote a recovery point (stat: %v)", err)
	}
	var last AppendResult
	for i := range 5 {
		last = mustAppend(t, l, batchN(t, 3, int64(i)))
	}
	if err := l.Sync(last.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	crash(l)

	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if got := len(readBatches(t, l)); got != 5 {
		t.Fatalf("after a crash the new log holds %d batches, want 5", got)
	}
	if end := l.EndOffset(); end != last.LastOffset+1 {
		t.Fatalf("end offset %d, want %d", end, last.LastOffset+1)
	}
}
