package msgindex

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const allTime = math.MaxInt64

func offsets(hits []Hit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.Offset
	}
	return out
}

func mustLookup(t *testing.T, x *Index, key string, from, to int64, limit int) []int64 {
	t.Helper()
	hits, err := x.Lookup(key, from, to, limit)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	return offsets(hits)
}

func mustOpen(t *testing.T, dir string, opts Options) *Index {
	t.Helper()
	x, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return x
}

// fill adds records 0..n-1: record i has keys "k<i%10>" and "u<i>", timestamp 1000+i.
func fill(t *testing.T, x *Index, from, n int64) {
	t.Helper()
	for i := from; i < n; i++ {
		if err := x.Add(i, 1000+i, []string{"k" + itoa(i%10), "u" + itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int64) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestLookupNewestFirstWithinRangeAndLimit(t *testing.T) {
	for _, opts := range []Options{{}, {Slots: 1, Capacity: 33}} { // one slot: every key collides in a chain
		x := mustOpen(t, t.TempDir(), opts)
		fill(t, x, 0, 50)
		if got := mustLookup(t, x, "k003", 0, allTime, 100); !slices.Equal(got, []int64{43, 33, 23, 13, 3}) {
			t.Fatalf("%+v: k003 = %v", opts, got)
		}
		if got := mustLookup(t, x, "u017", 0, allTime, 100); !slices.Equal(got, []int64{17}) {
			t.Fatalf("%+v: u017 = %v", opts, got)
		}
		if got := mustLookup(t, x, "k003", 1010, 1030, 100); !slices.Equal(got, []int64{23, 13}) {
			t.Fatalf("%+v: k003 in time range = %v", opts, got)
		}
		if got := mustLookup(t, x, "k003", 0, allTime, 2); !slices.Equal(got, []int64{43, 33}) {
			t.Fatalf("%+v: k003 limit 2 = %v", opts, got)
		}
		if got := mustLookup(t, x, "nope", 0, allTime, 100); len(got) != 0 {
			t.Fatalf("%+v: missing key = %v", opts, got)
		}
		if x.Next() != 50 {
			t.Fatalf("Next = %d", x.Next())
		}
	}
}

func TestReopenAfterCloseAndAfterCrash(t *testing.T) {
	for _, clean := range []bool{true, false} {
		dir := t.TempDir()
		x := mustOpen(t, dir, Options{Slots: 16, Capacity: 40})
		fill(t, x, 0, 30)
		x.Advance(35) // records 30-34 had no keys
		if clean {
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
		} else if err := x.Flush(); err != nil { // then "killed": no Close
			t.Fatal(err)
		}
		y := mustOpen(t, dir, Options{Slots: 16, Capacity: 40})
		if y.Next() != 35 {
			t.Fatalf("clean=%v: Next after reopen = %d, want 35", clean, y.Next())
		}
		fill(t, y, 35, 45)
		if got := mustLookup(t, y, "k003", 0, allTime, 100); !slices.Equal(got, []int64{43, 23, 13, 3}) {
			t.Fatalf("clean=%v: k003 after reopen = %v", clean, got)
		}
	}
}

func TestUnflushedEntriesAreIndexedAgain(t *testing.T) {
	dir := t.TempDir()
	x := mustOpen(t, dir, Options{Slots: 16, Capacity: 1000})
	fill(t, x, 0, 10)
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	fill(t, x, 10, 20) // never flushed: lost with the process
	y := mustOpen(t, dir, Options{Slots: 16, Capacity: 1000})
	if y.Next() != 10 {
		t.Fatalf("Next = %d, want 10 (the last flush)", y.Next())
	}
	fill(t, y, 10, 20)
	if got := mustLookup(t, y, "k003", 0, allTime, 100); !slices.Equal(got, []int64{13, 3}) {
		t.Fatalf("k003 = %v", got)
	}
}

func TestCorruptFileIsDroppedAndIndexedAgain(t *testing.T) {
	dir := t.TempDir()
	x := mustOpen(t, dir, Options{Slots: 16, Capacity: 40})
	fill(t, x, 0, 60) // files of 20 records
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	if len(names) < 3 {
		t.Fatalf("%d files, want several", len(names))
	}
	victim := names[1]
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, 20) // inside the checksummed header
	f.Close()
	y := mustOpen(t, dir, Options{Slots: 16, Capacity: 40})
	h, _ := readHeader(names[0])
	if y.Next() != h.next {
		t.Fatalf("Next = %d, want %d (end of the last good file)", y.Next(), h.next)
	}
	fill(t, y, y.Next(), 60)
	if got := mustLookup(t, y, "k003", 0, allTime, 100); !slices.Equal(got, []int64{53, 43, 33, 23, 13, 3}) {
		t.Fatalf("k003 = %v", got)
	}
}

func TestSlotPastCountIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	x := mustOpen(t, dir, Options{Slots: 16, Capacity: 1000})
	fill(t, x, 0, 10)
	x.Flush()
	// A crashed run wrote slots for entries its header never counted.
	a := x.act
	a.slots[3] = a.h.count + 5
	a.dirty = true
	h := a.h
	x.flushLocked()
	a.f.WriteAt(h.encode(), 0)
	y := mustOpen(t, dir, Options{Slots: 16, Capacity: 1000})
	if y.Next() != 0 {
		t.Fatalf("Next = %d, want 0 (file rebuilt)", y.Next())
	}
}

func TestPrune(t *testing.T) {
	x := mustOpen(t, t.TempDir(), Options{Slots: 16, Capacity: 40})
	fill(t, x, 0, 30)
	if err := x.Prune(22); err != nil {
		t.Fatal(err)
	}
	got := mustLookup(t, x, "k003", 0, allTime, 100)
	if !slices.Equal(got, []int64{23}) {
		t.Fatalf("k003 after prune = %v, want the files from 10 on", got)
	}
	if err := x.Reset(30); err != nil {
		t.Fatal(err)
	}
	if got := mustLookup(t, x, "k003", 0, allTime, 100); len(got) != 0 || x.Next() != 30 {
		t.Fatalf("after reset: %v, next %d", got, x.Next())
	}
}
