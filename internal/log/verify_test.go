package log

import (
	"os"
	"testing"
)

// Verify finds damage that an open after a clean shutdown does not look for
// (record bytes of a sealed segment whose indexes are intact), changes
// nothing, and reports what earlier opens quarantined.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	l, _ := buildLog(t, dir, cfg, 10) // segments 0, 6, 12, 18
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err := Verify(dir); err != nil || len(d) != 0 {
		t.Fatalf("Verify of a good log: %v, %v", d, err)
	}
	path := segmentPath(dir, 6, logExt)
	flipFileByte(t, path, int64(len(b)+70)) // offset 8's record bytes
	before, _ := os.ReadFile(path)
	d, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].File != "00000000000000000006.log" || d[0].Position != int64(len(b)) ||
		d[0].Length != int64(len(b)) || d[0].FirstOffset != 8 || d[0].EndOffset != 10 {
		t.Fatalf("Verify found %v, want offsets [8, 10) at %d", d, len(b))
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("Verify changed the segment")
	}
	if _, err := os.Stat(dir + "/" + damagedFile); !os.IsNotExist(err) {
		t.Fatal("Verify wrote a damaged-ranges file")
	}

	// The same range, once quarantined by an open, is reported once.
	os.Remove(segmentPath(dir, 6, timeIndexExt))
	l = openLog(t, dir, cfg, Options{})
	l.Close()
	if d, err := Verify(dir); err != nil || len(d) != 1 || d[0].FirstOffset != 8 {
		t.Fatalf("Verify after quarantine: %v, %v", d, err)
	}
}
