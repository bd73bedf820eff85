package log

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzScanBatches feeds arbitrary bytes to the recovery scan as a sealed and
// as a last segment: it must not panic, every batch it accepts must check
// out, and damaged ranges must lie inside the file, in order, apart from the
// accepted batches.
func FuzzScanBatches(f *testing.F) {
	good := append(batchN(f, 2, 7), batchN(f, 3, 9)...)
	putBaseOffset(good[len(good)-len(batchN(f, 3, 9)):], 2)
	f.Add(good)
	f.Add(flip(good, 70))
	f.Add(set32(good, 8, 0x7fffffff))
	f.Add(append(make([]byte, 30), good...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), segmentPath("", 0, logExt))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		size := int64(len(data))
		for _, cfg := range []scanConfig{
			{nextBase: 1000, quarantineTo: size, checkAt: -1},
			{nextBase: -1, quarantineTo: size, checkAt: -1},
			{nextBase: -1, checkAt: -1},
		} {
			type span struct{ pos, end int64 }
			var spans []span
			res, err := scanBatches(fh, size, cfg, func(h BatchHeader, pos int64, _ bool) {
				if _, err := parseStoredBatch(data[pos : pos+h.Size()]); err != nil {
					t.Fatalf("accepted a bad batch at %d: %v", pos, err)
				}
				spans = append(spans, span{pos, pos + h.Size()})
			})
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			for _, d := range res.damaged {
				spans = append(spans, span{d.Position, d.Position + d.Length})
				if d.Position < 0 || d.Position+d.Length > size {
					t.Fatalf("damaged range %v outside the file (%d bytes)", d, size)
				}
			}
			for i := range spans {
				for j := range spans {
					a, b := spans[i], spans[j]
					if i != j && a.pos < b.end && b.pos < a.end && a.end > a.pos && b.end > b.pos {
						t.Fatalf("ranges overlap: %v and %v", a, b)
					}
				}
			}
			if res.end > size || (res.tail == "" && cfg.quarantineTo > 0 && res.end != size) {
				t.Fatalf("scan ended at %d of %d (tail %q)", res.end, size, res.tail)
			}
		}
	})
}
