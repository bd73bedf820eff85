package halftxn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// memLog is an in-memory Log: batches with offsets assigned, all durable.
type memLog struct {
	mu         sync.Mutex
	batches    [][]byte
	next       int64
	failAppend error
	syncs      int
}

func (l *memLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failAppend != nil {
		return 0, l.failAppend
	}
	b := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(b, uint64(l.next))
	l.next += int64(binary.BigEndian.Uint32(b[57:])) // record count
	l.batches = append(l.batches, b)
	return l.next, nil
}

func (l *memLog) Sync(int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncs++
	return nil
}

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		base := int64(binary.BigEndian.Uint64(b))
		last := base + int64(binary.BigEndian.Uint32(b[23:]))
		if last < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time          { return f.now }
func (f *fakeClock) advance(d time.Duration) { f.now = f.now.Add(d) }

// harness is a store with recording Deliver and Check hooks.
type harness struct {
	log        *memLog
	clock      *fakeClock
	logs       *bytes.Buffer
	delivered  []Half
	checked    []Half
	checkErr   error
	deliverErr error
}

const testInterval = time.Minute

func newHarness() *harness {
	return &harness{log: &memLog{}, clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, logs: &bytes.Buffer{}}
}

// open returns a new store on the harness's log, loaded: a broker start.
func (h *harness) open() *Store {
	s := New(h.log, Options{
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       h.clock.Now,
		Interval:  testInterval,
		MaxChecks: 3,
		Deliver: func(x Half) error {
			if h.deliverErr != nil {
				return h.deliverErr
			}
			h.delivered = append(h.delivered, x)
			return nil
		},
		Check: func(x Half) error {
			if h.checkErr != nil {
				return h.checkErr
			}
			h.checked = append(h.checked, x)
			return nil
		},
	})
	if err := s.Load(); err != nil {
		panic(err)
	}
	return s
}

var errDisk = errors.New("disk on fire")

func sampleHalf(uniq string) Half {
	return Half{Topic: "orders", Partition: 2, Group: "pg", UniqKey: uniq, Batch: []byte("batch-" + uniq)}
}
