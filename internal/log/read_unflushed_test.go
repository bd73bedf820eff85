package log

import (
	"sync/atomic"
	"testing"
	"time"
)

// Under flush.policy=always a batch is readable by ReadUnflushed (a
// leader serving its followers) as soon as it is appended, and by Read
// (consumers) only once fsynced; OnAppend fires for the append.
func TestReadUnflushedServesAppendedBatches(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FlushPolicy = FlushAlways
	var appendedTo atomic.Int64
	l := openLog(t, t.TempDir(), cfg, Options{OnAppend: func(end int64) { appendedTo.Store(end) }})
	defer l.Close()
	if _, err := l.Append(NewBatch([]KeyValue{{Value: []byte("a")}, {Value: []byte("b")}}, time.Now())); err != nil {
		t.Fatal(err)
	}
	if got := appendedTo.Load(); got != 2 {
		t.Fatalf("OnAppend saw end %d, want 2", got)
	}
	if s, err := l.Read(0, 1<<20, true); err != nil || s.Size != 0 {
		t.Fatalf("Read before the fsync: %d bytes, %v; want none", s.Size, err)
	}
	s, err := l.ReadUnflushed(0, 1<<20, true)
	if err != nil || s.Size == 0 || s.Records != 2 {
		t.Fatalf("ReadUnflushed before the fsync: %d bytes, %d records, %v; want the batch", s.Size, s.Records, err)
	}
	if _, err := l.ReadUnflushed(3, 1<<20, true); err == nil {
		t.Fatal("ReadUnflushed past the log end: no error")
	}
	if err := l.Sync(2); err != nil {
		t.Fatal(err)
	}
	if s, err := l.Read(0, 1<<20, true); err != nil || s.Records != 2 {
		t.Fatalf("Read after the fsync: %d records, %v", s.Records, err)
	}
}
