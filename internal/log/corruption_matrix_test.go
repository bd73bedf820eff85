package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// matrixLog is the log every row of TestCorruptionMatrix damages: 11 acked
// (synced) batches of 2 records in segments 0, 6, 12 (sealed) and 18
// (active, offsets 18-21), one index entry per batch, a txn index with three
// entries in segment 18, and after an unclean shutdown one more batch (22-23)
// appended but never synced, past the recovery point.
type matrixLog struct {
	dir       string
	batchLen  int
	acked     [][]byte
	activeEnd int64 // data end of the active segment
}

func buildMatrixLog(t *testing.T, clean bool) (matrixLog, Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b))
	cfg.IndexIntervalBytes = 0
	clock := newFakeClock()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	m := matrixLog{dir: dir, batchLen: len(b)}
	for i := range 11 {
		if i == 10 {
			l.checkpointWG.Wait()          // the first sync's checkpoint is done
			clock.Advance(checkpointEvery) // so the last sync records the recovery point
		}
		b := batchN(t, 2, int64(1000+2*i))
		res := mustAppend(t, l, b)
		if err := l.Sync(res.LastOffset + 1); err != nil {
			t.Fatal(err)
		}
		m.acked = append(m.acked, b)
	}
	x, err := OpenTxnIndex(dir, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		if err := x.Add(18, AbortedTxn{ProducerID: 7 + i, FirstOffset: 2 * i, LastOffset: 2*i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if clean {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		m.activeEnd = fileSize(t, segmentPath(dir, 18, logExt))
		return m, cfg
	}
	l.checkpointWG.Wait()
	if l.rpWritten.offset != 22 {
		t.Fatalf("recovery point %d, want 22", l.rpWritten.offset)
	}
	mustAppend(t, l, batchN(t, 2, 5000)) // never synced
	m.activeEnd = l.segments[len(l.segments)-1].size
	crash(l)
	return m, cfg
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// What a reader sees at the damaged batch.
const (
	seesGood    = "all batches intact"
	seesBadCRC  = "the batch, failing its CRC check" // as in Kafka; ferry log verify reports it
	seesError   = "a read error (CORRUPT_MESSAGE)"
	seesDamaged = "ErrDamaged, range listed in Damaged()"
)

// TestCorruptionMatrix flips one byte in each kind of file the log owns, in
// the middle and at the tail, after a clean and an unclean shutdown, and
// checks for each what recovery logs, what a reader sees, and that no acked
// record outside the damaged batch is lost.
func TestCorruptionMatrix(t *testing.T) {
	type row struct {
		name  string
		clean bool
		// where returns the file and the position of the byte to flip.
		where func(m matrixLog) (string, int64)
		level string // a line expected at this level ("": no WARN or ERROR at all)
		msg   string // ... containing this
		sees  string
		at    int64 // offset of the damaged batch
		txns  int   // aborted transactions still indexed
	}
	logMiddle := func(m matrixLog) (string, int64) { // record bytes of offset 8
		return segmentPath(m.dir, 6, logExt), int64(m.batchLen + m.batchLen/2 + 20)
	}
	logTail := func(m matrixLog) (string, int64) { return segmentPath(m.dir, 18, logExt), m.activeEnd - 1 }
	activeHeader := func(m matrixLog) (string, int64) { // length field of offset 18
		return segmentPath(m.dir, 18, logExt), offLength + 1
	}
	activeHeaderNoIndex := func(m matrixLog) (string, int64) { // and its index lost
		os.Remove(segmentPath(m.dir, 18, indexExt))
		return activeHeader(m)
	}
	indexMiddle := func(m matrixLog) (string, int64) { return segmentPath(m.dir, 6, indexExt), indexEntrySize + 1 }
	indexTail := func(m matrixLog) (string, int64) {
		p := segmentPath(m.dir, 18, indexExt)
		return p, fileSize(nil, p) - 1
	}
	timeMiddle := func(m matrixLog) (string, int64) { return segmentPath(m.dir, 6, timeIndexExt), timeEntrySize + 1 }
	timeTail := func(m matrixLog) (string, int64) {
		p := segmentPath(m.dir, 18, timeIndexExt)
		return p, fileSize(nil, p) - 1
	}
	txnMiddle := func(m matrixLog) (string, int64) { return segmentPath(m.dir, 18, txnIndexExt), txnEntrySize + 10 }
	txnTail := func(m matrixLog) (string, int64) { return segmentPath(m.dir, 18, txnIndexExt), 3*txnEntrySize - 1 }
	rpMiddle := func(m matrixLog) (string, int64) { return filepath.Join(m.dir, recoveryPointFile), 3 }
	rpTail := func(m matrixLog) (string, int64) {
		p := filepath.Join(m.dir, recoveryPointFile)
		return p, fileSize(nil, p) - 2 // the last digit, before the newline
	}

	rows := []row{
		// A clean open trusts sealed segments' indexes and reads no record
		// bytes; the reader's CRC check (and `ferry log verify`) finds it.
		{"log middle", true, logMiddle, "", "", seesBadCRC, 8, 3},
		{"log middle", false, logMiddle, "", "", seesBadCRC, 8, 3},
		{"log tail", true, logTail, "", "", seesBadCRC, 20, 3},
		// Past the recovery point: the torn tail, cut; it was never acked.
		{"log tail", false, logTail, "WARN", "truncating torn tail", seesGood, -1, 3},
		// A header in the active segment below the recovery point (fsynced
		// data): open trusts the indexes and only a read of it notices. When
		// the index is lost too, the header walk that rebuilds it finds the
		// bad header and quarantines the batch.
		{"active header", true, activeHeader, "", "", seesError, 18, 3},
		{"active header", false, activeHeader, "", "", seesError, 18, 3},
		{"active header, index lost", true, activeHeaderNoIndex, "ERROR", "damaged bytes", seesDamaged, 18, 3},
		{"active header, index lost", false, activeHeaderNoIndex, "ERROR", "damaged bytes", seesDamaged, 18, 3},
		{"index middle", true, indexMiddle, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"index middle", false, indexMiddle, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"index tail", true, indexTail, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"index tail", false, indexTail, "", "", seesGood, -1, 3}, // rebuilt by the tail scan anyway
		{"timeindex middle", true, timeMiddle, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"timeindex middle", false, timeMiddle, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"timeindex tail", true, timeTail, "WARN", "index unusable; rebuilding", seesGood, -1, 3},
		{"timeindex tail", false, timeTail, "", "", seesGood, -1, 3},
		// Fixed-size entries with a CRC each: only the damaged one is lost.
		{"txnindex middle", true, txnMiddle, "", "", seesGood, -1, 2},
		{"txnindex middle", false, txnMiddle, "", "", seesGood, -1, 2},
		{"txnindex tail", true, txnTail, "", "", seesGood, -1, 2},
		{"txnindex tail", false, txnTail, "", "", seesGood, -1, 2},
		// An unreadable recovery point is rewritten; after a crash a wrong
		// one is noticed and the whole active segment is validated.
		{"recovery-point middle", true, rpMiddle, "WARN", "recovery point unreadable", seesGood, -1, 3},
		{"recovery-point middle", false, rpMiddle, "WARN", "recovery point", seesGood, -1, 3},
		{"recovery-point tail", true, rpTail, "WARN", "recovery point unreadable", seesGood, -1, 3},
		{"recovery-point tail", false, rpTail, "WARN", "recovery point", seesGood, -1, 3},
	}
	for _, r := range rows {
		shutdown := "unclean"
		if r.clean {
			shutdown = "clean"
		}
		t.Run(r.name+"/"+shutdown, func(t *testing.T) {
			m, cfg := buildMatrixLog(t, r.clean)
			path, pos := r.where(m)
			flipFileByte(t, path, pos)

			var logs logBuffer
			opts := logs.options()
			l, err := Open(m.dir, cfg, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()

			// What is logged.
			warns, errs := logs.lines("WARN"), logs.lines("ERROR")
			switch {
			case r.level == "" && len(warns)+len(errs) > 0:
				t.Errorf("want nothing at WARN or ERROR, got %q %q", warns, errs)
			case r.level == "ERROR" && len(logs.lines("ERROR", r.msg)) == 0:
				t.Errorf("want an ERROR with %q, got %q", r.msg, errs)
			case r.level == "WARN" && (len(logs.lines("WARN", r.msg)) == 0 || len(errs) > 0):
				t.Errorf("want a WARN with %q and no ERROR, got %q %q", r.msg, warns, errs)
			}

			// What a reader sees, and that every other acked batch is there.
			for i, want := range m.acked {
				off := int64(2 * i)
				sl, err := l.Read(off, len(want), true)
				var got []byte
				if err == nil {
					got, err = sl.ReadAll()
				}
				if off != r.at {
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("acked batch %d lost or changed (%v)", off, err)
					}
					continue
				}
				switch r.sees {
				case seesBadCRC:
					if err != nil {
						t.Fatalf("Read(%d): %v", off, err)
					}
					if _, perr := ParseBatch(got); perr == nil {
						t.Fatalf("damaged batch %d passes its CRC check", off)
					}
				case seesError:
					if !errors.Is(err, ErrCorruptBatch) {
						t.Fatalf("Read(%d): %v, want ErrCorruptBatch", off, err)
					}
				case seesDamaged:
					if !errors.Is(err, ErrDamaged) {
						t.Fatalf("Read(%d): %v, want ErrDamaged", off, err)
					}
				}
			}
			if d := l.Damaged(); (r.sees == seesDamaged) != (len(d) == 1 && d[0].holds(r.at)) {
				t.Fatalf("Damaged() = %v", d)
			}
			if l.EndOffset() < 22 {
				t.Fatalf("end offset %d below the acked end 22", l.EndOffset())
			}
			if res := mustAppend(t, l, batchN(t, 1, 1)); res.BaseOffset != l.EndOffset()-1 || res.BaseOffset < 22 {
				t.Fatalf("append at %d", res.BaseOffset)
			}
			x, err := OpenTxnIndex(m.dir, l.EndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(x.Aborted(0, 100)); n != r.txns {
				t.Fatalf("%d aborted transactions indexed, want %d", n, r.txns)
			}

			// Verify reports what is still damaged on disk.
			l.Close()
			found, err := Verify(m.dir)
			if err != nil {
				t.Fatal(err)
			}
			wantFound := r.sees != seesGood
			if wantFound != (len(found) > 0) {
				t.Fatalf("Verify found %v", found)
			}
		})
	}
}

// A time index entry whose timestamp was damaged but still looks ordered is
// not trusted by OffsetForTime: it would start the search past the answer.
func TestTimeIndexDamagedEntryNotTrusted(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(4 * len(b))
	cfg.IndexIntervalBytes = 2 * len(b) // entries for every other batch
	l := openLog(t, dir, cfg, Options{})
	for i := range 12 { // batch i: offsets 2i, 2i+1, timestamps 1000+10i, +1
		mustAppend(t, l, batchN(t, 2, int64(1000+10*i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Segment 8's time index: (1041, batch 4), (1061, batch 6), (1071, batch
	// 7). Make the second 1045, still ordered but below batch 5's 1051: a
	// search for 1050 trusting it would start at batch 6.
	path := segmentPath(dir, 8, timeIndexExt)
	raw, _ := os.ReadFile(path)
	raw[timeEntrySize+7] ^= 1061 ^ 1045
	os.WriteFile(path, raw, 0o644)

	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	for i := range 12 {
		ts := int64(1000 + 10*i)
		if off, _, ok := l.OffsetForTime(ts); !ok || off != int64(2*i) {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", ts, off, ok, 2*i)
		}
	}
}
