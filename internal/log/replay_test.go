package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// replayLog writes n one-record batches (key "k<i>") to a log with small
// segments and closes it cleanly; it returns the directory.
func replayLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	l, err := Open(dir, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		kv := KeyValue{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("value")}
		if _, err := l.Append(NewBatch([]KeyValue{kv}, time.UnixMilli(1_700_000_000_000))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// replayAll reopens the log in dir and replays it, returning the keys read
// and the damage reported.
func replayAll(t *testing.T, dir string) ([]string, []Damage, int64) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	l, err := Open(dir, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	read := func(offset int64, maxBytes int) ([]byte, error) {
		s, err := l.Read(offset, maxBytes, true)
		if err != nil {
			return nil, err
		}
		return s.ReadAll()
	}
	var keys []string
	var damage []Damage
	end, records, err := Replay(read, 1<<20, func(_ BatchHeader, key, _ []byte) error {
		keys = append(keys, string(key))
		return nil
	}, func(d Damage) { damage = append(damage, d) })
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if records != len(keys) {
		t.Fatalf("replay counted %d records, fn saw %d", records, len(keys))
	}
	return keys, damage, end
}

// A damaged batch in a sealed segment of a coordinator's topic costs that
// batch only: before Replay, the coordinators either applied the damaged
// bytes (no CRC check) or refused to load at all.
func TestReplaySkipsDamagedBatch(t *testing.T) {
	const n = 40
	for _, tc := range []struct {
		name string
		at   int64 // byte of the batch to flip
	}{
		{"record bytes", batchHeaderSize + 3},
		{"crc", offCRC + 1},
		{"last offset delta", offLastOffsetDelta + 3},
		{"length", offLength + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := replayLog(t, n)
			segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			slices.Sort(segs)
			if len(segs) < 3 {
				t.Fatalf("want several segments, have %d", len(segs))
			}
			// The third batch of the second segment.
			b, err := os.ReadFile(segs[1])
			if err != nil {
				t.Fatal(err)
			}
			pos := int64(0)
			for range 2 {
				pos += logOverhead + int64(binary.BigEndian.Uint32(b[pos+offLength:]))
			}
			victim := int64(binary.BigEndian.Uint64(b[pos:]))
			b[pos+tc.at] ^= 0x10
			if err := os.WriteFile(segs[1], b, 0o644); err != nil {
				t.Fatal(err)
			}

			keys, damage, end := replayAll(t, dir)
			if end != n {
				t.Errorf("end = %d, want %d", end, n)
			}
			if len(damage) != 1 || damage[0].From != victim || damage[0].To <= victim {
				t.Fatalf("damage = %+v, want one range from %d", damage, victim)
			}
			var want []string
			for i := range int64(n) {
				if i < damage[0].From || i >= damage[0].To {
					want = append(want, fmt.Sprintf("k%d", i))
				}
			}
			if !slices.Equal(keys, want) {
				t.Fatalf("keys = %v\nwant   %v", keys, want)
			}
			t.Logf("flip in %s: skipped [%d, %d) of %d: %v", tc.name, damage[0].From, damage[0].To, n, damage[0].Err)
		})
	}
}
