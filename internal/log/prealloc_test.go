package log

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// preallocLogRecorder is a slog handler that keeps the messages logged at or above a
// level.
type preallocLogRecorder struct {
	mu   sync.Mutex
	min  slog.Level
	msgs []string
}

func (h *preallocLogRecorder) Enabled(_ context.Context, lvl slog.Level) bool { return true }
func (h *preallocLogRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= h.min {
		h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	}
	return nil
}
func (h *preallocLogRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *preallocLogRecorder) WithGroup(string) slog.Handler      { return h }

func (h *preallocLogRecorder) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

func preallocFileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// requirePrealloc skips the test on file systems without fallocate.
func requirePrealloc(t *testing.T, l *Log) {
	t.Helper()
	l.appendMu.Lock()
	off := l.preallocOff
	l.appendMu.Unlock()
	if off {
		t.Skip("fallocate not supported here")
	}
}

// setChunk sets preallocChunk for the test.
func setChunk(t *testing.T, n int64) {
	old := preallocChunk
	preallocChunk = n
	t.Cleanup(func() { preallocChunk = old })
}

func sameBatches(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

func TestPreallocExtendsActiveSegmentInChunks(t *testing.T) {
	dir := t.TempDir()
	b := batchN(t, 2, 1)
	setChunk(t, int64(3*len(b)+7)) // not a multiple of the batch size
	cfg := testConfig()
	cfg.SegmentBytes = int64(8 * len(b))
	l := openLog(t, dir, cfg, Options{})
	defer l.Close()
	path := segmentPath(dir, 0, logExt)
	for i := 1; i <= 8; i++ {
		mustAppend(t, l, batchN(t, 2, int64(i)))
		requirePrealloc(t, l)
		data := int64(i * len(b))
		want := min((data+preallocChunk-1)/preallocChunk*preallocChunk, cfg.SegmentBytes)
		if got := preallocFileSize(t, path); got != want || l.Size() != data {
			t.Fatalf("after %d batches: file %d bytes, want %d; Size %d, want %d", i, got, want, l.Size(), data)
		}
	}
}

func TestPreallocCrashRecoversDataEnd(t *testing.T) {
	for _, policy := range []FlushPolicy{FlushOS, FlushAlways} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.FlushPolicy = policy
			cfg.SegmentAge = 0 // the test batches are from 1970: no roll on reopen
			l, batches := buildLog(t, dir, cfg, 10)
			requirePrealloc(t, l)
			if err := l.Sync(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			data := l.Size()
			path := segmentPath(dir, 0, logExt)
			if fs := preallocFileSize(t, path); fs <= data {
				t.Fatalf("file %d bytes, data %d: not preallocated", fs, data)
			}
			crash(l)
			tail, _ := os.ReadFile(path)
			if !bytes.Equal(tail[data:], make([]byte, len(tail)-int(data))) {
				t.Fatal("preallocated tail is not zero")
			}

			rec := &preallocLogRecorder{min: slog.LevelWarn}
			l = openLog(t, dir, cfg, Options{Logger: slog.New(rec)})
			if msgs := rec.messages(); len(msgs) != 0 {
				t.Fatalf("zero tail logged as a problem: %q", msgs)
			}
			if l.EndOffset() != 20 || l.HighWatermark() != 20 || l.Size() != data {
				t.Fatalf("end %d hw %d size %d, want 20 20 %d", l.EndOffset(), l.HighWatermark(), l.Size(), data)
			}
			sameBatches(t, readBatches(t, l), batches)
			if fs := preallocFileSize(t, path); fs != data {
				t.Fatalf("zero tail not truncated: file %d bytes, data %d", fs, data)
			}
			// Appends continue at the right offset and position, preallocating again.
			b := batchN(t, 3, 50)
			if res := mustAppend(t, l, b); res.BaseOffset != 20 {
				t.Fatalf("next append at %d, want 20", res.BaseOffset)
			}
			if err := l.Sync(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
			if fs := preallocFileSize(t, path); fs <= l.Size() {
				t.Fatalf("not preallocated after recovery: file %d bytes, data %d", fs, l.Size())
			}
			// Crash again, then a clean cycle.
			crash(l)
			l = openLog(t, dir, cfg, Options{})
			if l.EndOffset() != 23 {
				t.Fatalf("end %d after second crash, want 23", l.EndOffset())
			}
			sameBatches(t, readBatches(t, l), batches)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, Options{})
			defer l.Close()
			if l.EndOffset() != 23 || l.scannedSegments.Load() != 0 {
				t.Fatalf("end %d, scanned %d after clean reopen", l.EndOffset(), l.scannedSegments.Load())
			}
			sameBatches(t, readBatches(t, l), batches)
		})
	}
}

func TestPreallocCleanCloseTrims(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l, batches := buildLog(t, dir, cfg, 7)
	requirePrealloc(t, l)
	data := l.Size()
	path := segmentPath(dir, 0, logExt)
	if fs := preallocFileSize(t, path); fs <= data {
		t.Fatalf("file %d bytes, data %d: not preallocated", fs, data)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fs := preallocFileSize(t, path); fs != data {
		t.Fatalf("after Close: file %d bytes, want the data size %d", fs, data)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanMarkerFile)); err != nil {
		t.Fatalf("no clean marker: %v", err)
	}
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if l.scannedSegments.Load() != 0 || l.EndOffset() != 14 || l.Size() != data {
		t.Fatalf("clean reopen: scanned %d, end %d, size %d", l.scannedSegments.Load(), l.EndOffset(), l.Size())
	}
	sameBatches(t, readBatches(t, l), batches)
}

// A clean marker with a zero tail (cannot happen since Close trims, but a
// copied or restored directory might look like this): the tail is scanned away.
func TestPreallocCleanMarkerWithZeroTail(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.IndexIntervalBytes = 2 * len(b)
	l, batches := buildLog(t, dir, cfg, 9)
	data := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := segmentPath(dir, 0, logExt)
	if err := os.Truncate(path, data+4096); err != nil {
		t.Fatal(err)
	}
	rec := &preallocLogRecorder{min: slog.LevelWarn}
	l = openLog(t, dir, cfg, Options{Logger: slog.New(rec)})
	defer l.Close()
	if msgs := rec.messages(); len(msgs) != 0 {
		t.Fatalf("warnings: %q", msgs)
	}
	if l.scannedSegments.Load() != 1 || l.EndOffset() != 18 || l.Size() != data {
		t.Fatalf("scanned %d, end %d, size %d; want 1, 18, %d", l.scannedSegments.Load(), l.EndOffset(), l.Size(), data)
	}
	if fs := preallocFileSize(t, path); fs != data {
		t.Fatalf("file %d bytes, want %d", fs, data)
	}
	sameBatches(t, readBatches(t, l), batches)
	if res := mustAppend(t, l, batchN(t, 1, 5)); res.BaseOffset != 18 {
		t.Fatalf("next append at %d", res.BaseOffset)
	}
}

func TestPreallocRollTrimsSealedSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3*len(b) + len(b)/2) // 3 batches per segment, never full
	l, batches := buildLog(t, dir, cfg, 10)
	defer l.Close()
	requirePrealloc(t, l)
	l.mu.RLock()
	segs := append([]*segment(nil), l.segments...)
	l.mu.RUnlock()
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	for _, s := range segs[:3] {
		if fs := preallocFileSize(t, s.path(logExt)); fs != int64(3*len(b)) || s.size != fs {
			t.Fatalf("sealed segment %d: file %d bytes, size %d, want %d", s.base, fs, s.size, 3*len(b))
		}
	}
	if fs := preallocFileSize(t, segs[3].path(logExt)); fs != cfg.SegmentBytes {
		t.Fatalf("active segment file %d bytes, want preallocated to SegmentBytes %d", fs, cfg.SegmentBytes)
	}
	sameBatches(t, readBatches(t, l), batches)
}

func TestPreallocRetentionCountsDataBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(10 * len(b))
	// 25 batches: two full sealed segments and 5 batches in the active one,
	// whose file is preallocated to 10. Counting data, total - oldest = 15
	// batches, below 20: nothing to delete. Counting allocated bytes it would
	// be 20 and the oldest segment would go.
	cfg.RetentionBytes = int64(20 * len(b))
	cfg.RetentionAge = -1 // the test batches are from 1970
	l, _ := buildLog(t, dir, cfg, 25)
	defer l.Close()
	requirePrealloc(t, l)
	if l.Size() != int64(25*len(b)) {
		t.Fatalf("Size %d, want %d", l.Size(), 25*len(b))
	}
	var onDisk int64
	for _, base := range []int64{0, 20, 40} {
		onDisk += preallocFileSize(t, segmentPath(dir, base, logExt))
	}
	if onDisk != int64(30*len(b)) {
		t.Fatalf("files hold %d bytes, want %d (active preallocated)", onDisk, 30*len(b))
	}
	n, err := l.EnforceRetention()
	if err != nil || n != 0 {
		t.Fatalf("EnforceRetention deleted %d segments (%v), want 0", n, err)
	}
	// One more batch: 16 >= 20? no. Five more: 20, so the oldest goes.
	for i := range 5 {
		mustAppend(t, l, batchN(t, 2, int64(100+i)))
	}
	if n, err := l.EnforceRetention(); err != nil || n != 1 || l.Size() != int64(20*len(b)) {
		t.Fatalf("EnforceRetention deleted %d (%v), size %d, want 1 and %d", n, err, l.Size(), 20*len(b))
	}
}

func TestPreallocReadStopsAtHighWatermark(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.FlushPolicy = FlushAlways
	l, batches := buildLog(t, dir, cfg, 4)
	defer l.Close()
	requirePrealloc(t, l)
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	// Unsynced appends: HW stays at 8 while the end moves on.
	last := batchN(t, 2, 9)
	mustAppend(t, l, last)
	if hw := l.HighWatermark(); hw != 8 {
		t.Fatalf("hw %d, want 8", hw)
	}
	sl, err := l.Read(8, 1<<20, true)
	if err != nil || sl.Size != 0 {
		t.Fatalf("Read at HW: %d bytes, %v", sl.Size, err)
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	batches = append(batches, last)
	hw := l.HighWatermark()
	if sl, err := l.Read(hw, 1<<20, true); err != nil || sl.Size != 0 {
		t.Fatalf("Read at HW %d: %d bytes, %v", hw, sl.Size, err)
	}
	// A read from the start with a huge budget ends at the data, not in the
	// zero-filled preallocated space.
	sl, err = l.Read(0, 64<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if sl.Pos+sl.Size != l.Size() {
		t.Fatalf("slice [%d, %d) goes past the data end %d", sl.Pos, sl.Pos+sl.Size, l.Size())
	}
	got, _ := sl.ReadAll()
	if want := bytes.Join(batches, nil); !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("read %d bytes, want the %d bytes of the batches; first difference at %d: %d vs %d", len(got), len(want), i, got[i], want[i])
	}
	if _, err := l.Read(hw+1, 1<<20, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read past HW: %v", err)
	}
}

func TestPreallocFallbackWhenUnsupported(t *testing.T) {
	calls := 0
	old := fallocateFunc
	fallocateFunc = func(*os.File, int64, int64) error { calls++; return errors.ErrUnsupported }
	t.Cleanup(func() { fallocateFunc = old })

	dir := t.TempDir()
	cfg := testConfig()
	rec := &preallocLogRecorder{min: slog.LevelDebug}
	l := openLog(t, dir, cfg, Options{Logger: slog.New(rec)})
	var batches [][]byte
	for i := range 5 {
		b := batchN(t, 2, int64(i))
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	if calls != 1 {
		t.Fatalf("fallocate called %d times, want once", calls)
	}
	if n := len(rec.messages()); n != 1 {
		t.Fatalf("%d log messages, want one (debug): %q", n, rec.messages())
	}
	path := segmentPath(dir, 0, logExt)
	if fs := preallocFileSize(t, path); fs != l.Size() {
		t.Fatalf("file %d bytes, data %d", fs, l.Size())
	}
	crash(l)
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if l.EndOffset() != 10 {
		t.Fatalf("end %d, want 10", l.EndOffset())
	}
	sameBatches(t, readBatches(t, l), batches)
}

// Compaction of sealed segments while the active one is preallocated; the
// result survives a crash and a clean reopen.
func TestPreallocCompaction(t *testing.T) {
	for _, how := range []string{"clean", "crash"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			clock := newFakeClock()
			cfg := compactConfig()
			l := openLog(t, dir, cfg, Options{Now: clock.Now})
			requirePrealloc(t, l)
			var m model
			fillCompactable(t, l, &m, 60, clock.Now().UnixMilli())
			end := activeBase(l)
			st, err := l.Compact(clock.Now())
			if err != nil || st.Rewritten == 0 {
				t.Fatalf("Compact: %+v, %v", st, err)
			}
			want := m.expect(end, 0)
			l.mu.RLock()
			var total int64
			for _, s := range l.segments {
				total += s.size
				if s != l.segments[len(l.segments)-1] {
					if fs := preallocFileSize(t, s.path(logExt)); fs != s.size {
						t.Errorf("segment %d: file %d bytes, size %d", s.base, fs, s.size)
					}
				}
			}
			l.mu.RUnlock()
			if total != l.Size() {
				t.Fatalf("Size %d, segments hold %d", l.Size(), total)
			}
			if how == "clean" {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crash(l)
			}
			l = openLog(t, dir, cfg, Options{Now: clock.Now})
			defer l.Close()
			got, _ := readRecords(t, l)
			sameRecords(t, got, want)
			fillCompactable(t, l, &m, 20, clock.Now().UnixMilli()+1000)
			end = activeBase(l)
			if _, err := l.Compact(clock.Now()); err != nil {
				t.Fatal(err)
			}
			got, _ = readRecords(t, l)
			sameRecords(t, got, m.expect(end, 0))
		})
	}
}
