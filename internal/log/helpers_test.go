package log

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// makeBatch builds a valid v2 batch with one record per timestamp, each with a
// value of valueSize bytes.
func makeBatch(tb testing.TB, timestamps []int64, valueSize int) []byte {
	tb.Helper()
	if len(timestamps) == 0 {
		tb.Fatal("makeBatch needs at least one record")
	}
	first, maxTs := timestamps[0], timestamps[0]
	for _, ts := range timestamps {
		maxTs = max(maxTs, ts)
	}
	var records []byte
	for i, ts := range timestamps {
		r := kmsg.Record{
			TimestampDelta64: ts - first,
			OffsetDelta:      int32(i),
			Key:              []byte("k"),
			Value:            bytes.Repeat([]byte{byte('a' + i%26)}, valueSize),
		}
		body := r.AppendTo(nil)[1:] // without the 1-byte varint of Length=0
		r.Length = int32(len(body))
		records = r.AppendTo(records)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(timestamps) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(timestamps)),
		Records:              records,
	}
	raw := b.AppendTo(nil)
	b.Length = int32(len(raw) - 12)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	out := b.AppendTo(nil)
	if _, err := ParseBatch(out); err != nil {
		tb.Fatalf("test batch does not validate: %v", err)
	}
	return out
}

// batchN builds a batch of n records with timestamps ts, ts+1, ...
func batchN(tb testing.TB, n int, ts int64) []byte {
	tss := make([]int64, n)
	for i := range tss {
		tss[i] = ts + int64(i)
	}
	return makeBatch(tb, tss, 10)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.FlushPolicy = FlushOS
	return cfg
}

func openLog(tb testing.TB, dir string, cfg Config, opts Options) *Log {
	tb.Helper()
	l, err := Open(dir, cfg, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(tb testing.TB, l *Log, batch []byte) AppendResult {
	tb.Helper()
	res, err := l.Append(batch)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return res
}

// readBatches reads every visible batch from StartOffset to HighWatermark, checks
// each with ParseBatch and that offsets are contiguous, and returns them.
func readBatches(tb testing.TB, l *Log) [][]byte {
	tb.Helper()
	var out [][]byte
	next := l.StartOffset()
	for next < l.HighWatermark() {
		sl, err := l.Read(next, 1<<20, true)
		if err != nil {
			tb.Fatalf("Read(%d): %v", next, err)
		}
		b, err := sl.ReadAll()
		if err != nil || len(b) == 0 {
			tb.Fatalf("Read(%d): %d bytes, %v", next, len(b), err)
		}
		for len(b) > 0 {
			n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
			if n > len(b) || n < 61 {
				tb.Fatalf("slice at %d holds a partial batch", next)
			}
			h, err := ParseBatch(b[:n])
			if err != nil {
				tb.Fatalf("batch at %d: %v", next, err)
			}
			if h.BaseOffset != next {
				tb.Fatalf("batch base %d, want %d", h.BaseOffset, next)
			}
			out = append(out, b[:n])
			next = h.LastOffset() + 1
			b = b[n:]
		}
	}
	return out
}

// crash closes the files of l without sealing, syncing or writing the clean
// marker: what the next Open sees is what a crash would leave (minus page cache
// loss).
func crash(l *Log) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.stopFlusher()
	l.checkpointWG.Wait() // no stray write into the directory the test reopens
	l.closed.Store(true)
	for _, s := range l.segments {
		s.closeIndexFiles()
		s.file.Close()
	}
}
