package log

import (
	"bytes"
	"os"
	"testing"
)

// buildLog appends n batches of 2 records and returns the log and the batches.
func buildLog(t testing.TB, dir string, cfg Config, n int) (*Log, [][]byte) {
	l := openLog(t, dir, cfg, Options{})
	var batches [][]byte
	for i := range n {
		b := batchN(t, 2, int64(1000+i))
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	return l, batches
}

func TestRecoveryTornTail(t *testing.T) {
	// end is the data end: the file may be longer (preallocated, zero-filled).
	corrupt := map[string]func(t *testing.T, path string, end int64, lastLen int){
		"truncated mid-batch": func(t *testing.T, path string, end int64, lastLen int) {
			if err := os.Truncate(path, end-int64(lastLen)/2); err != nil {
				t.Fatal(err)
			}
		},
		"flipped byte": func(t *testing.T, path string, end int64, lastLen int) {
			b, _ := os.ReadFile(path)
			b[end-5] ^= 1
			os.WriteFile(path, b, 0o644)
		},
		"flipped byte, zero tail kept": func(t *testing.T, path string, end int64, lastLen int) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var b [1]byte
			f.ReadAt(b[:], end-5)
			b[0] ^= 1
			f.WriteAt(b[:], end-5)
		},
		"torn header": func(t *testing.T, path string, end int64, lastLen int) {
			os.Truncate(path, end-int64(lastLen)+7)
		},
	}
	for name, damage := range corrupt {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			l, batches := buildLog(t, dir, cfg, 10)
			end := l.Size()
			crash(l)
			damage(t, segmentPath(dir, 0, logExt), end, len(batches[9]))

			l = openLog(t, dir, cfg, Options{})
			defer l.Close()
			if l.EndOffset() != 18 || l.HighWatermark() != 18 {
				t.Fatalf("end %d hw %d after recovery, want 18", l.EndOffset(), l.HighWatermark())
			}
			got := readBatches(t, l)
			if len(got) != 9 {
				t.Fatalf("%d batches survived, want 9", len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i], batches[i]) {
					t.Fatalf("batch %d changed", i)
				}
			}
			var size int64
			for _, b := range batches[:9] {
				size += int64(len(b))
			}
			if st, _ := os.Stat(segmentPath(dir, 0, logExt)); st.Size() != size || l.Size() != size {
				t.Fatalf("file %d bytes, Size %d, want %d", st.Size(), l.Size(), size)
			}
			if res := mustAppend(t, l, batchN(t, 3, 5)); res.BaseOffset != 18 {
				t.Fatalf("next append at %d, want 18", res.BaseOffset)
			}
		})
	}
}

func TestRecoveryGarbageTail(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l, batches := buildLog(t, dir, cfg, 5)
	end := l.Size()
	crash(l)
	path := segmentPath(dir, 0, logExt)
	// Garbage right after the data, inside the preallocated space if any.
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xAB}, 100), end)
	f.Close()

	l = openLog(t, dir, cfg, Options{})
	if l.EndOffset() != 10 || len(readBatches(t, l)) != 5 {
		t.Fatalf("end %d after garbage tail", l.EndOffset())
	}
	if st2, _ := os.Stat(path); st2.Size() != end {
		t.Fatalf("garbage not truncated: %d vs %d", st2.Size(), end)
	}
	mustAppend(t, l, batchN(t, 1, 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	got := readBatches(t, l)
	if len(got) != 6 || l.EndOffset() != 11 || !bytes.Equal(got[4], batches[4]) {
		t.Fatalf("after reopen: %d batches, end %d", len(got), l.EndOffset())
	}
}

func TestRecoveryCleanShutdownSkipsScan(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	cfg.IndexIntervalBytes = len(b) // several index entries per segment
	l, batches := buildLog(t, dir, cfg, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/" + cleanMarkerFile); err != nil {
		t.Fatalf("no clean marker: %v", err)
	}
	l = openLog(t, dir, cfg, Options{})
	if n := l.scannedSegments.Load(); n != 0 {
		t.Fatalf("clean open scanned %d segments", n)
	}
	if _, err := os.Stat(dir + "/" + cleanMarkerFile); !os.IsNotExist(err) {
		t.Fatal("clean marker not removed on open")
	}
	if l.EndOffset() != 20 {
		t.Fatalf("end %d, want 20", l.EndOffset())
	}
	if off, ts := l.MaxTimestamp(); off != 18 || ts != 1010 {
		t.Fatalf("MaxTimestamp %d,%d after clean load", off, ts)
	}
	got := readBatches(t, l)
	for i := range batches {
		if !bytes.Equal(got[i], batches[i]) {
			t.Fatalf("batch %d differs after clean reopen", i)
		}
	}
	mustAppend(t, l, batchN(t, 2, 1))

	// Crash now: only the segment holding the recovery point is scanned.
	crash(l)
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if n := l.scannedSegments.Load(); n != 1 {
		t.Fatalf("unclean open scanned %d segments, want 1 (from the recovery point)", n)
	}
	if l.EndOffset() != 22 || len(readBatches(t, l)) != 11 {
		t.Fatalf("end %d after crash", l.EndOffset())
	}
}

func TestRecoveryMiddleSegmentCorrupt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	l, _ := buildLog(t, dir, cfg, 10) // segments at 0, 6, 12, 18
	crash(l)
	os.Remove(dir + "/" + recoveryPointFile) // scan everything
	path := segmentPath(dir, 6, logExt)
	data, _ := os.ReadFile(path)
	data[len(b)+70] ^= 0xff // second batch of segment 6 (offset 8)
	os.WriteFile(path, data, 0o644)

	// A sealed segment is never cut and never makes later ones go away: the
	// bad batch is quarantined (see TestSealedSegmentCorruptionKeepsLaterSegments).
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if l.EndOffset() != 20 || len(l.segments) != 4 {
		t.Fatalf("end %d, %d segments; want 20, 4", l.EndOffset(), len(l.segments))
	}
	if d := l.Damaged(); len(d) != 1 || d[0].FirstOffset != 8 || d[0].EndOffset != 10 {
		t.Fatalf("damaged %v, want offsets [8, 10)", d)
	}
	if res := mustAppend(t, l, batchN(t, 2, 1)); res.BaseOffset != 20 {
		t.Fatalf("append at %d", res.BaseOffset)
	}
	if got := readAround(t, l); len(got) != 10 {
		t.Fatalf("%d batches readable, want 10", len(got))
	}
}

func TestRecoveryBadIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	cfg.IndexIntervalBytes = 0
	l, _ := buildLog(t, dir, cfg, 7)
	l.Close()
	os.WriteFile(segmentPath(dir, 0, indexExt), []byte{1, 2, 3}, 0o644)      // torn
	os.WriteFile(segmentPath(dir, 6, timeIndexExt), make([]byte, 24), 0o644) // not increasing
	os.Remove(segmentPath(dir, 12, indexExt))                                // missing
	os.WriteFile(segmentPath(dir, 99, indexExt), []byte("orphan"), 0o644)    // no .log
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if n := l.scannedSegments.Load(); n != 3 {
		t.Fatalf("rebuilt %d segments, want 3", n)
	}
	if _, err := os.Stat(segmentPath(dir, 99, indexExt)); !os.IsNotExist(err) {
		t.Fatal("orphan index not removed")
	}
	if len(l.segments[0].index) != 3 || len(l.segments[1].times) != 3 {
		t.Fatalf("indexes not rebuilt: %d, %d entries", len(l.segments[0].index), len(l.segments[1].times))
	}
	if len(readBatches(t, l)) != 7 || l.EndOffset() != 14 {
		t.Fatal("data lost")
	}
}

func FuzzRecovery(f *testing.F) {
	good := batchN(f, 2, 7)
	for _, trim := range []bool{false, true} {
		f.Add([]byte{}, trim)
		f.Add(good, trim)
		f.Add(good[:40], trim)
		f.Add(flip(good, 61), trim)
		f.Add(append(clone(good), bytes.Repeat([]byte{0}, 20)...), trim)
		f.Add(set32(good, 8, 0x7fffffff), trim)
	}
	// tail is written right after the data; the preallocated zeros after it
	// stay unless trim (the file then ends with tail, as without preallocation).
	f.Fuzz(func(t *testing.T, tail []byte, trim bool) {
		dir := t.TempDir()
		cfg := testConfig()
		cfg.IndexIntervalBytes = 100
		l, batches := buildLog(t, dir, cfg, 3)
		end := l.Size()
		crash(l)
		path := segmentPath(dir, 0, logExt)
		if trim {
			if err := os.Truncate(path, end); err != nil {
				t.Fatal(err)
			}
		}
		fh, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(tail, end)
		fh.Close()

		l, err = Open(dir, cfg, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		got := readBatches(t, l) // validates every batch and offset contiguity
		if len(got) < 3 {
			t.Fatalf("lost good batches: %d left", len(got))
		}
		for i := range batches {
			if !bytes.Equal(got[i], batches[i]) {
				t.Fatalf("batch %d changed", i)
			}
		}
		if st, err := os.Stat(path); err != nil || st.Size() != l.Size() {
			t.Fatalf("after recovery the file is not its data: %v, Size %d", err, l.Size())
		}
		next := l.EndOffset()
		if res := mustAppend(t, l, batchN(t, 1, 1)); res.BaseOffset != next {
			t.Fatalf("append at %d, want %d", res.BaseOffset, next)
		}
	})
}
