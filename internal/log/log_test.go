package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAppendReadRoundTrip(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	if l.EndOffset() != 0 || l.HighWatermark() != 0 || l.StartOffset() != 0 {
		t.Fatalf("new log: end %d hw %d start %d", l.EndOffset(), l.HighWatermark(), l.StartOffset())
	}
	var want [][]byte
	next := int64(0)
	for i := 1; i <= 10; i++ {
		b := batchN(t, i, int64(1000+i*10))
		res := mustAppend(t, l, b)
		if res.BaseOffset != next || res.LastOffset != next+int64(i)-1 || res.MaxTimestamp != int64(1000+i*10+i-1) {
			t.Fatalf("batch %d: %+v, want base %d", i, res, next)
		}
		if h, _ := ParseBatch(b); h.BaseOffset != next {
			t.Fatalf("base offset not written into caller's slice: %d", h.BaseOffset)
		}
		want = append(want, b)
		next += int64(i)
	}
	if l.EndOffset() != next || l.HighWatermark() != next {
		t.Fatalf("end %d hw %d, want %d", l.EndOffset(), l.HighWatermark(), next)
	}
	got := readBatches(t, l)
	if len(got) != len(want) {
		t.Fatalf("read %d batches, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	// Every offset reads back the batch containing it.
	base := int64(0)
	for i, b := range want {
		for off := base; off < base+int64(i+1); off++ {
			sl, err := l.Read(off, len(b), false)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			data, _ := sl.ReadAll()
			if !bytes.Equal(data, b) {
				t.Fatalf("Read(%d) returned %d bytes, not batch %d", off, len(data), i)
			}
		}
		base += int64(i + 1)
	}
	if _, err := l.Append(flip(want[0], 70)); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("corrupt append: %v", err)
	}
	if l.EndOffset() != next {
		t.Fatal("rejected batch moved the end offset")
	}
}

func TestReadLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	var size int
	for range 5 {
		b := batchN(t, 3, 1)
		size = len(b)
		mustAppend(t, l, b)
	}
	check := func(off int64, maxBytes int, minOne bool, wantBytes int) {
		t.Helper()
		sl, err := l.Read(off, maxBytes, minOne)
		if err != nil {
			t.Fatalf("Read(%d,%d,%v): %v", off, maxBytes, minOne, err)
		}
		if int(sl.Size) != wantBytes {
			t.Fatalf("Read(%d,%d,%v) = %d bytes, want %d", off, maxBytes, minOne, sl.Size, wantBytes)
		}
	}
	check(0, size*5/2, false, 2*size)
	check(4, size*2, false, 2*size) // offset 4 is inside batch 1
	check(0, size/2, false, 0)
	check(0, size/2, true, size)
	check(0, 1<<20, false, 5*size)
	check(13, 1<<20, false, 1*size)
	check(15, 1<<20, false, 0) // == HighWatermark
	for _, off := range []int64{-1, 16, 100} {
		if _, err := l.Read(off, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d): %v, want ErrOffsetOutOfRange", off, err)
		}
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(3 * len(b)) // 3 batches per segment
	cfg.IndexIntervalBytes = 0
	l := openLog(t, dir, cfg, Options{})
	for range 10 {
		mustAppend(t, l, batchN(t, 2, 1))
	}
	if n := len(l.segments); n != 4 {
		t.Fatalf("%d segments, want 4", n)
	}
	for _, base := range []int64{0, 6, 12, 18} {
		if _, err := os.Stat(segmentPath(dir, base, logExt)); err != nil {
			t.Fatal(err)
		}
	}
	// A read never crosses a segment.
	sl, err := l.Read(4, 1<<20, false)
	if err != nil || sl.Size != int64(len(b)) {
		t.Fatalf("Read(4): %d bytes, %v; want one batch", sl.Size, err)
	}
	if got := len(readBatches(t, l)); got != 10 {
		t.Fatalf("read %d batches, want 10", got)
	}
	// A batch bigger than a segment still goes in (alone).
	big := makeBatch(t, []int64{1, 2}, int(cfg.SegmentBytes))
	res := mustAppend(t, l, big)
	if res.BaseOffset != 20 || len(l.segments) != 5 {
		t.Fatalf("big batch at %d, %d segments", res.BaseOffset, len(l.segments))
	}
	mustAppend(t, l, batchN(t, 1, 1))
	if len(l.segments) != 6 {
		t.Fatalf("%d segments after big batch, want 6", len(l.segments))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	if l.EndOffset() != 23 || len(readBatches(t, l)) != 12 {
		t.Fatalf("after reopen: end %d", l.EndOffset())
	}
}

func TestRollByAge(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.SegmentAge = time.Hour
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	defer l.Close()
	ts := clock.Now().UnixMilli()
	mustAppend(t, l, batchN(t, 1, ts))
	clock.Advance(30 * time.Minute)
	mustAppend(t, l, batchN(t, 1, ts))
	if len(l.segments) != 1 {
		t.Fatalf("rolled too early: %d segments", len(l.segments))
	}
	clock.Advance(31 * time.Minute)
	res := mustAppend(t, l, batchN(t, 1, ts))
	if len(l.segments) != 2 || l.segments[1].base != 2 || res.BaseOffset != 2 {
		t.Fatalf("want a roll at offset 2: %d segments, result %+v", len(l.segments), res)
	}
	// The new segment's age starts now; an empty segment is never rolled.
	clock.Advance(2 * time.Hour)
	mustAppend(t, l, batchN(t, 1, ts))
	if len(l.segments) != 3 {
		t.Fatalf("%d segments, want 3", len(l.segments))
	}
}

func TestRetentionBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(2 * len(b))
	cfg.RetentionAge = -1 // the test batches are from 1970
	l := openLog(t, dir, cfg, Options{})
	defer l.Close()
	for range 9 { // 5 segments: 4 full, active holds 1 batch
		mustAppend(t, l, batchN(t, 2, 1))
	}
	if l.Size() != int64(9*len(b)) {
		t.Fatalf("Size %d, want %d", l.Size(), 9*len(b))
	}
	// A Slice taken before retention stays readable after its segment is deleted.
	early, err := l.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetentionBytes = int64(4*len(b)) + 1
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	n, err := l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's rule: delete while size - oldest >= retention: 9→7→5 batches, then 5-2=3 < 4.x stops.
	if n != 2 || l.StartOffset() != 8 || l.Size() != int64(5*len(b)) {
		t.Fatalf("deleted %d, start %d, size %d", n, l.StartOffset(), l.Size())
	}
	if _, err := os.Stat(segmentPath(dir, 0, logExt)); !os.IsNotExist(err) {
		t.Fatalf("segment 0 still on disk: %v", err)
	}
	if data, err := early.ReadAll(); err != nil || len(data) != 2*len(b) {
		t.Fatalf("slice of a deleted segment: %d bytes, %v", len(data), err)
	}
	if _, err := l.Read(7, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if got := len(readBatches(t, l)); got != 5 {
		t.Fatalf("%d batches left, want 5", got)
	}
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if n, _ := l.EnforceRetention(); n != 2 || len(l.segments) != 1 {
		t.Fatalf("retention 0 deleted %d, %d segments left; the active one must stay", n, len(l.segments))
	}
}

func TestRetentionTime(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	cfg := testConfig()
	b := batchN(t, 1, 1)
	cfg.SegmentBytes = int64(2 * len(b))
	cfg.RetentionAge = time.Hour
	l := openLog(t, dir, cfg, Options{Now: clock.Now})
	defer l.Close()
	now := clock.Now().UnixMilli()
	tss := []int64{now - 3*3600e3, now - 2*3600e3, now - 2*3600e3, now - 10, now - 5, now}
	for _, ts := range tss {
		mustAppend(t, l, batchN(t, 1, ts))
	}
	// Segments: [0,1] old, [2,3] one old one new, [4,5] new.
	n, err := l.EnforceRetention()
	if err != nil || n != 1 || l.StartOffset() != 2 {
		t.Fatalf("deleted %d (%v), start %d; want 1, 2", n, err, l.StartOffset())
	}
	// Everything expires: the active segment is rolled and deleted too.
	clock.Advance(2 * time.Hour)
	n, err = l.EnforceRetention()
	if err != nil || n != 2 {
		t.Fatalf("deleted %d (%v), want 2", n, err)
	}
	if l.StartOffset() != 6 || l.EndOffset() != 6 || l.Size() != 0 || len(l.segments) != 1 {
		t.Fatalf("start %d end %d size %d segments %d", l.StartOffset(), l.EndOffset(), l.Size(), len(l.segments))
	}
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("MaxTimestamp of empty log: %d %d", off, ts)
	}
	res := mustAppend(t, l, batchN(t, 1, clock.Now().UnixMilli()))
	if res.BaseOffset != 6 {
		t.Fatalf("append after retention at %d", res.BaseOffset)
	}
}

func TestOffsetForTimeAndMaxTimestamp(t *testing.T) {
	cfg := testConfig()
	cfg.IndexIntervalBytes = 300
	b := batchN(t, 2, 1)
	cfg.SegmentBytes = int64(7 * len(b))
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("empty MaxTimestamp: %d %d", off, ts)
	}
	if _, _, found := l.OffsetForTime(0); found {
		t.Fatal("found a time in an empty log")
	}
	type rec struct{ offset, ts int64 }
	var recs []rec
	// Timestamps mostly grow, with some going backwards.
	for i := range 40 {
		ts := int64(1000 + i*10)
		if i%7 == 3 {
			ts -= 200
		}
		res := mustAppend(t, l, batchN(t, 2, ts))
		recs = append(recs, rec{res.BaseOffset, ts}, rec{res.BaseOffset + 1, ts + 1})
	}
	if len(l.segments) < 3 {
		t.Fatalf("want several segments, got %d", len(l.segments))
	}
	for ts := int64(700); ts <= 1500; ts++ {
		// Kafka's answer: the first record in offset order at or after ts.
		wantOff, wantTs, wantFound := int64(-1), int64(-1), false
		for _, r := range recs {
			if r.ts >= ts {
				wantOff, wantTs, wantFound = r.offset, r.ts, true
				break
			}
		}
		off, gotTs, found := l.OffsetForTime(ts)
		if off != wantOff || gotTs != wantTs || found != wantFound {
			t.Fatalf("OffsetForTime(%d) = %d,%d,%v; want %d,%d,%v", ts, off, gotTs, found, wantOff, wantTs, wantFound)
		}
	}
	off, ts := l.MaxTimestamp()
	if off != 78 || ts != 1391 {
		t.Fatalf("MaxTimestamp = %d,%d; want 78,1391", off, ts)
	}
}

func TestGroupCommit(t *testing.T) {
	cfg := testConfig()
	cfg.FlushPolicy = FlushAlways
	var lastHW atomic.Int64
	l := openLog(t, t.TempDir(), cfg, Options{OnAdvance: func(hw int64) {
		for {
			cur := lastHW.Load()
			if hw <= cur || lastHW.CompareAndSwap(cur, hw) {
				return
			}
		}
	}})
	defer l.Close()

	// Appended but not synced: invisible.
	res := mustAppend(t, l, batchN(t, 1, 1))
	if l.HighWatermark() != 0 || l.EndOffset() != 1 {
		t.Fatalf("hw %d end %d before Sync", l.HighWatermark(), l.EndOffset())
	}
	if sl, err := l.Read(0, 1000, true); err != nil || sl.Size != 0 {
		t.Fatalf("unsynced data readable: %d bytes, %v", sl.Size, err)
	}
	if err := l.Sync(res.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	if l.HighWatermark() != 1 || lastHW.Load() != 1 {
		t.Fatalf("hw %d, OnAdvance saw %d after Sync", l.HighWatermark(), lastHW.Load())
	}

	const writers, perWriter = 32, 20
	before := l.fsyncs.Load()
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				res, err := l.Append(batchN(t, 2, 5))
				if err == nil {
					err = l.Sync(res.LastOffset + 1)
				}
				if err == nil && l.HighWatermark() <= res.LastOffset {
					err = errors.New("Sync returned before the high watermark covered the batch")
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fsyncs := l.fsyncs.Load() - before
	end := int64(1 + 2*writers*perWriter)
	if l.EndOffset() != end || l.HighWatermark() != end || lastHW.Load() != end {
		t.Fatalf("end %d hw %d OnAdvance %d, want %d", l.EndOffset(), l.HighWatermark(), lastHW.Load(), end)
	}
	if fsyncs >= writers*perWriter {
		t.Fatalf("%d fsyncs for %d appends: no group commit", fsyncs, writers*perWriter)
	}
	t.Logf("%d fsyncs for %d appends", fsyncs, writers*perWriter)
}

func TestFlushIntervalAndOS(t *testing.T) {
	cfg := testConfig()
	cfg.FlushPolicy = FlushInterval
	cfg.FlushInterval = 5 * time.Millisecond
	var advances atomic.Int64
	l := openLog(t, t.TempDir(), cfg, Options{OnAdvance: func(int64) { advances.Add(1) }})
	defer l.Close()
	mustAppend(t, l, batchN(t, 1, 1))
	if l.HighWatermark() != 1 || advances.Load() != 1 {
		t.Fatalf("hw %d advances %d: interval policy must expose appends at once", l.HighWatermark(), advances.Load())
	}
	if err := l.Sync(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.fsyncs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("background flusher never fsynced")
		}
		time.Sleep(time.Millisecond)
	}
	// Switching to os stops the flusher.
	cfg.FlushPolicy = FlushOS
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if l.flusherStop != nil {
		t.Fatal("flusher still running under FlushOS")
	}
}

func TestConcurrentReadAppendRetention(t *testing.T) {
	cfg := testConfig()
	b := batchN(t, 3, 1)
	cfg.SegmentBytes = int64(5 * len(b))
	cfg.RetentionBytes = int64(20 * len(b))
	cfg.RetentionAge = -1
	cfg.FlushPolicy = FlushAlways
	l := openLog(t, t.TempDir(), cfg, Options{})
	defer l.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start, hw := l.StartOffset(), l.HighWatermark()
				if hw <= start {
					continue
				}
				off := start + (hw-start)/2
				sl, err := l.Read(off, 3*len(b), true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention overtook us
				}
				if err != nil {
					t.Error(err)
					return
				}
				data, err := sl.ReadAll()
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := ParseBatch(data[:len(b)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.EnforceRetention(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i := range 300 {
		res := mustAppend(t, l, batchN(t, 3, 1))
		if i%3 == 0 {
			if err := l.Sync(res.LastOffset + 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if l.EndOffset() != 900 {
		t.Fatalf("end %d", l.EndOffset())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.SegmentBytes = 10 },
		func(c *Config) { c.SegmentBytes = 1 << 40 },
		func(c *Config) { c.SegmentAge = -1 },
		func(c *Config) { c.FlushPolicy = "sometimes" },
		func(c *Config) { c.FlushPolicy, c.FlushInterval = FlushInterval, 0 },
		func(c *Config) { c.IndexIntervalBytes = -1 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config accepted: %+v", i, c)
		}
	}
	if _, err := Open(t.TempDir(), Config{}, Options{}); err == nil {
		t.Fatal("Open accepted a zero config")
	}
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p0")
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, batchN(t, 1, 1))
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
	if _, err := l.Append(batchN(t, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after delete: %v", err)
	}
}
