package msgindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Source is the partition log a tailer reads.
type Source interface {
	StartOffset() int64
	// HighWatermark: records below it are committed; only those are
	// indexed, so an index never names a record a truncation removes.
	HighWatermark() int64
	// Read returns whole batches from the one holding offset, about
	// maxBytes of them but at least one.
	Read(offset int64, maxBytes int) ([]byte, error)
	// Watch signals ch (without blocking) when the high watermark moves.
	Watch(ch chan struct{})
	Unwatch(ch chan struct{})
}

// Record is a decoded record. A DecodeFunc's records are valid only during
// its callback (their bytes alias the data read, or a buffer reused); Find
// returns copies.
type Record struct {
	Offset    int64
	Timestamp int64 // ms
	Key       []byte
	Value     []byte
	// Headers are the record's headers: set by the DecodeFunc or, when it
	// sets EachHeader instead (no allocation per record), on the copies
	// Find returns.
	Headers []kmsg.Header
	// EachHeader, when set, calls fn with each header until fn returns
	// false.
	EachHeader func(fn func(key, value []byte) bool)
}

// eachHeader walks r's headers, whichever way the decoder gave them.
func (r Record) eachHeader(fn func(key, value []byte) bool) {
	if r.EachHeader != nil {
		r.EachHeader(fn)
		return
	}
	for _, h := range r.Headers {
		if !fn([]byte(h.Key), h.Value) {
			return
		}
	}
}

// clone copies r out of the decoder's buffers.
func (r Record) clone() Record {
	c := Record{Offset: r.Offset, Timestamp: r.Timestamp, Key: cloneBytes(r.Key), Value: cloneBytes(r.Value)}
	r.eachHeader(func(k, v []byte) bool {
		c.Headers = append(c.Headers, kmsg.Header{Key: string(k), Value: cloneBytes(v)})
		return true
	})
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// DecodeFunc calls fn for each data record in data (whole batches as read
// from a log), in offset order.
type DecodeFunc func(data []byte, fn func(Record) error) error

// UniqKeyHeader is the header holding a RocketMQ message's client id.
const UniqKeyHeader = "UNIQ_KEY"

// Keys are the index keys of a record: its key split on spaces (RocketMQ's
// KEYS property holds several that way) and its UNIQ_KEY header.
func Keys(r Record) []string {
	var keys []string
	if len(r.Key) > 0 {
		keys = strings.Fields(string(r.Key))
	}
	r.eachHeader(func(k, v []byte) bool {
		if string(k) == UniqKeyHeader && len(v) > 0 {
			keys = append(keys, string(v))
		}
		return true
	})
	return keys
}

// HasKey reports whether r carries key (checks a lookup's candidate).
func HasKey(r Record, key string) bool {
	for _, k := range Keys(r) {
		if k == key {
			return true
		}
	}
	return false
}

// tailReadBytes is how much a tailer reads from the log at a time.
const tailReadBytes = 1 << 20

// pruneEvery is how often an idle tailer drops files below the log start.
const pruneEvery = time.Minute

// tailer keeps one partition's index up to its high watermark.
type tailer struct {
	src    Source
	x      *Index
	decode DecodeFunc
	lg     *slog.Logger
	stop   chan struct{}
	done   chan struct{}
}

func (t *tailer) run() {
	defer close(t.done)
	wake := make(chan struct{}, 1)
	t.src.Watch(wake)
	defer t.src.Unwatch(wake)
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	failures := 0
	for {
		caughtUp, err := t.step()
		if err != nil {
			failures++
			// Back off on a failing disk instead of spinning; the index
			// is behind meanwhile, never wrong.
			if failures == 1 || failures%100 == 0 {
				t.lg.Error("message index cannot advance", "err", err, "failures", failures)
			}
			select {
			case <-t.stop:
				return
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 10*time.Second)):
			}
			continue
		}
		failures = 0
		if !caughtUp {
			select {
			case <-t.stop:
				return
			default:
				continue
			}
		}
		select {
		case <-t.stop:
			return
		case <-wake:
		case <-prune.C:
			if err := t.x.Prune(t.src.StartOffset()); err != nil {
				t.lg.Error("message index prune failed", "err", err)
			}
		}
	}
}

// step indexes one read's worth of records; caughtUp when none are left.
func (t *tailer) step() (caughtUp bool, err error) {
	start, hw := t.src.StartOffset(), t.src.HighWatermark()
	next := t.x.Next()
	if next > hw && hw >= start {
		// The log was truncated below what was indexed (a follower
		// rejoining, a recreated topic): index it again.
		if err := t.x.Reset(start); err != nil {
			return false, err
		}
		next = start
	}
	if next < start {
		t.x.Advance(start) // retention removed what was never indexed
		next = start
	}
	if next >= hw {
		return true, nil
	}
	data, err := t.src.Read(next, tailReadBytes)
	if err != nil {
		return false, fmt.Errorf("read at %d: %w", next, err)
	}
	if len(data) == 0 {
		return true, nil
	}
	last := next - 1
	err = t.decode(data, func(r Record) error {
		if r.Offset >= hw {
			return errStop
		}
		last = r.Offset
		return t.x.Add(r.Offset, r.Timestamp, Keys(r))
	})
	if err != nil && !errors.Is(err, errStop) {
		// Damaged or undecodable records: skip what was read rather than
		// stall the partition's index behind them.
		t.lg.Warn("message index skips records it cannot decode", "from", next, "to", batchesEnd(data, next), "err", err)
	}
	// Offsets without data records (control batches, compacted gaps) up
	// to the end of what was read count as indexed too.
	end := min(hw, batchesEnd(data, next))
	t.x.Advance(max(last+1, end))
	return false, t.x.Flush()
}

var errStop = errors.New("stop")

// batchesEnd returns the offset after the last whole batch in data (Kafka
// v2 batch framing: base offset at 0, length at 8, last offset delta at 23),
// or from when data holds none.
func batchesEnd(data []byte, from int64) int64 {
	end := from
	for len(data) >= 27 {
		size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
		if size < 27 || size > len(data) {
			break
		}
		base := int64(binary.BigEndian.Uint64(data))
		end = max(end, base+int64(int32(binary.BigEndian.Uint32(data[23:])))+1)
		data = data[size:]
	}
	return end
}
