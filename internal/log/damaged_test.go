package log

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects a Log's slog output as text lines, for assertions on what
// recovery reports.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged at level (e.g. "ERROR") containing every one
// of words.
func (b *logBuffer) lines(level string, words ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range strings.Split(b.buf.String(), "\n") {
		if !strings.Contains(line, "level="+level+" ") {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func (b *logBuffer) options() Options {
	return Options{Logger: slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// readAround reads every batch from StartOffset to HighWatermark, stepping
// over damaged ranges (whose reads must fail with ErrDamaged), and returns the
// batches by base offset.
func readAround(t *testing.T, l *Log) map[int64][]byte {
	t.Helper()
	out := map[int64][]byte{}
	next := l.StartOffset()
	for next < l.HighWatermark() {
		sl, err := l.Read(next, 1<<20, true)
		if errors.Is(err, ErrDamaged) {
			skipped := false
			for _, d := range l.Damaged() {
				if d.holds(next) {
					next, skipped = d.EndOffset, true
				}
			}
			if !skipped {
				t.Fatalf("Read(%d): %v, but no damaged range holds it", next, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		b, err := sl.ReadAll()
		if err != nil || len(b) == 0 {
			t.Fatalf("Read(%d): %d bytes, %v", next, len(b), err)
		}
		for len(b) > 0 {
			h, err := ParseBatch(b[:int(int32(be32(b[8:])))+12])
			if err != nil {
				t.Fatalf("batch read at %d: %v", next, err)
			}
			if h.BaseOffset < next {
				t.Fatalf("batch base %d, want >= %d", h.BaseOffset, next)
			}
			out[h.BaseOffset] = b[:h.Size()]
			next = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return out
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func flipFileByte(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Defect 1 of issue 7: corruption in the middle of an older, sealed segment
// sent it through the crash scan, which cut it and then deleted every later
// segment as a torn tail. Now the bad batch is quarantined and nothing else is
// lost.
func TestSealedSegmentCorruptionKeepsLaterSegments(t *testing.T) {
	type damage func(t *testing.T, dir string, batchLen int)
	seg := func(dir string, ext string) string { return segmentPath(dir, 6, ext) }
	cases := []struct {
		name   string
		damage damage
		lost   [2]int64 // offsets lost, [first, end)
	}{
		{"record bytes flipped, time index truncated", func(t *testing.T, dir string, n int) {
			flipFileByte(t, seg(dir, logExt), int64(n+n/2+20))
			os.Truncate(seg(dir, timeIndexExt), 5)
		}, [2]int64{8, 10}},
		{"record bytes flipped, offset index corrupt", func(t *testing.T, dir string, n int) {
			flipFileByte(t, seg(dir, logExt), int64(n+n/2+20))
			os.WriteFile(seg(dir, indexExt), []byte{0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 3}, 0o644)
		}, [2]int64{8, 10}},
		{"length field garbage, index missing", func(t *testing.T, dir string, n int) {
			flipFileByte(t, seg(dir, logExt), int64(n+offLength))
			os.Remove(seg(dir, indexExt))
		}, [2]int64{8, 10}},
		{"segment file lost", func(t *testing.T, dir string, n int) {
			for _, ext := range []string{logExt, indexExt, timeIndexExt} {
				os.Remove(segmentPath(dir, 12, ext))
			}
		}, [2]int64{12, 18}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			b := batchN(t, 2, 1)
			cfg.SegmentBytes = int64(3 * len(b))
			cfg.IndexIntervalBytes = 0
			l, batches := buildLog(t, dir, cfg, 42) // 14 segments of 3 batches: 0, 6, 12, ...
			if len(l.segments) != 14 {
				t.Fatalf("%d segments, want 14", len(l.segments))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir, len(b))

			var logs logBuffer
			l = openLog(t, dir, cfg, logs.options())
			if l.EndOffset() != 84 {
				t.Fatalf("end offset %d after reopen, want 84", l.EndOffset())
			}
			check := func(l *Log) {
				t.Helper()
				got := readAround(t, l)
				for i, want := range batches {
					off := int64(2 * i)
					if off >= tc.lost[0] && off < tc.lost[1] {
						if _, ok := got[off]; ok {
							t.Fatalf("damaged batch %d served", off)
						}
						if _, err := l.Read(off, 1<<20, true); !errors.Is(err, ErrDamaged) {
							t.Fatalf("Read(%d) in the damaged range: %v, want ErrDamaged", off, err)
						}
						continue
					}
					if !bytes.Equal(got[off], want) {
						t.Fatalf("batch %d lost or changed", off)
					}
				}
				dr := l.Damaged()
				if len(dr) != 1 || dr[0].FirstOffset != tc.lost[0] || dr[0].EndOffset != tc.lost[1] {
					t.Fatalf("Damaged() = %v, want one range [%d, %d)", dr, tc.lost[0], tc.lost[1])
				}
			}
			check(l)
			if got := logs.lines("ERROR", "damaged", "file=0000000000000000000"); len(got) != 1 {
				t.Fatalf("want one ERROR naming the damaged file, got %q", got)
			}
			if got := logs.lines("WARN", "deleting"); len(got) != 0 {
				t.Fatalf("segments deleted: %q", got)
			}
			if res := mustAppend(t, l, batchN(t, 2, 5)); res.BaseOffset != 84 {
				t.Fatalf("append at %d, want 84 (offsets must never be reused)", res.BaseOffset)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			// A clean reopen still knows the damage (damaged-ranges file).
			l = openLog(t, dir, cfg, Options{})
			defer l.Close()
			check(l)
			if l.EndOffset() != 86 {
				t.Fatalf("end %d after second reopen, want 86", l.EndOffset())
			}
		})
	}
}

// When the end of the active segment is damaged (durable data: below the
// recovery point) and no valid batch follows, its bytes are kept in a segment
// sealed as it is and appends continue in a new one at the true end offset,
// known from the recovery point: offsets are never reused.
func TestDamagedActiveTailStartsNewSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l, batches := buildLog(t, dir, cfg, 3) // offsets 0-5 in segment 0
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := segmentPath(dir, 0, logExt)
	pos := int64(2 * len(batches[0]))
	flipFileByte(t, path, pos+offLength+1) // the last batch's length
	os.Remove(segmentPath(dir, 0, indexExt))
	size := fileSize(t, path)

	var logs logBuffer
	l = openLog(t, dir, cfg, logs.options())
	if len(logs.lines("ERROR", "damaged", "position="+itoa(pos))) == 0 {
		t.Fatalf("no ERROR naming the damaged position; logged %q", logs.lines("ERROR"))
	}
	if fileSize(t, path) != size {
		t.Fatal("damaged bytes were cut")
	}
	if d := l.Damaged(); len(d) != 1 || d[0].FirstOffset != 4 || d[0].EndOffset != 6 || d[0].Position != pos {
		t.Fatalf("Damaged() = %v, want offsets [4, 6) at %d", d, pos)
	}
	if _, err := l.Read(4, 1<<20, true); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Read(4): %v, want ErrDamaged", err)
	}
	if got := readAround(t, l); !bytes.Equal(got[0], batches[0]) || !bytes.Equal(got[2], batches[1]) {
		t.Fatal("batches before the damage lost")
	}
	if res := mustAppend(t, l, batchN(t, 2, 1)); res.BaseOffset != 6 {
		t.Fatalf("append at %d, want 6", res.BaseOffset)
	}
	if len(l.segments) != 2 || l.segments[1].base != 6 {
		t.Fatalf("want a new active segment at 6, have %d segments", len(l.segments))
	}
	l.Close()
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if d := l.Damaged(); len(d) != 1 || l.EndOffset() != 8 {
		t.Fatalf("after reopen: damaged %v, end %d", d, l.EndOffset())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
