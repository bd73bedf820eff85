package log

import (
	"fmt"
	"math"
	"testing"
)

// Index entries hold offsets relative to the segment base in 32 bits, so a
// segment must roll before a batch's last offset is more than MaxInt32 past
// its base, whatever the batches claim. Produced batches cannot claim more
// offsets than records (ParseBatch), but stored ones can (compaction leaves
// gaps), so this appends such batches with AppendParsed, as a follower or a
// restore would.
func TestRollBeforeRelativeOffsetsOverflow(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 0 // an index entry for every batch
	l := openLog(t, dir, cfg, Options{})
	type placed struct {
		base, last int64
		value      string
	}
	var batches []placed
	for i := range 5 {
		value := fmt.Sprintf("batch-%d", i)
		delta := int32(math.MaxInt32)
		if i == 2 {
			delta = 9 // a small one between the wide ones
		}
		b := rawBatch(codecNone, delta, 1, framed(testRecord(0, nil, []byte(value))))
		h, err := parseStoredBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.AppendParsed(b, h)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		batches = append(batches, placed{res.BaseOffset, res.LastOffset, value})
	}
	check := func(l *Log, when string) {
		t.Helper()
		l.mu.RLock()
		for _, s := range l.segments {
			if s.next > s.base && s.next-1-s.base > math.MaxInt32 {
				t.Errorf("%s: segment %d holds offsets up to %d, more than MaxInt32 past its base", when, s.base, s.next-1)
			}
		}
		l.mu.RUnlock()
		for _, want := range batches {
			for _, off := range []int64{want.base, want.base + 1, want.last} {
				sl, err := l.Read(off, 1, true)
				if err != nil {
					t.Fatalf("%s: Read(%d): %v", when, off, err)
				}
				b, err := sl.ReadAll()
				if err != nil {
					t.Fatalf("%s: Read(%d): %v", when, off, err)
				}
				h, err := parseStoredBatch(b)
				if err != nil {
					t.Fatalf("%s: Read(%d): %v", when, off, err)
				}
				var got string
				if err := forEachRecord(b, h, func(r record) error { got = string(r.Value); return nil }); err != nil {
					t.Fatal(err)
				}
				if h.BaseOffset != want.base || got != want.value {
					t.Errorf("%s: Read(%d) returned %q at %d, want %q at %d", when, off, got, h.BaseOffset, want.value, want.base)
				}
			}
		}
	}
	check(l, "after append")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	check(l, "after reopen")
}
