package schedule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// memLog is an in-memory __scheduled partition: batches get offsets as a
// log assigns them; everything appended is committed.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	bases   []int64
	end     int64
	failAt  int // fail the failAt-th append from now (1 = next); 0 = never
}

func (l *memLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failAt > 0 {
		l.failAt--
		if l.failAt == 0 {
			return 0, errors.New("injected append failure")
		}
	}
	h, _, err := log.DecodeRecords(batch)
	if err != nil {
		return 0, err
	}
	b := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(b, uint64(l.end))
	l.batches = append(l.batches, b)
	l.bases = append(l.bases, l.end)
	l.end += int64(h.LastOffsetDelta) + 1
	return l.end, nil
}

func (l *memLog) Sync(int64) error { return nil }

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if offset >= l.end {
		return nil, nil
	}
	i := sort.Search(len(l.bases), func(i int) bool { return l.bases[i] > offset }) - 1
	if i < 0 {
		return nil, log.ErrOffsetOutOfRange
	}
	var out []byte
	for ; i < len(l.batches) && (len(out) == 0 || len(out)+len(l.batches[i]) <= maxBytes); i++ {
		out = append(out, l.batches[i]...)
	}
	return out, nil
}

func (l *memLog) StartOffset() int64 { return 0 }

func (l *memLog) HighWatermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// fakeClock is the scheduler's clock in tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// delivery is one record appended to a target, seen by the test.
type delivery struct {
	topic     string
	partition int32
	key       string
	value     string
	at        time.Time
}

// targets records deliveries; fail makes the next deliveries fail.
type targets struct {
	mu    sync.Mutex
	clock *fakeClock
	got   []delivery
	fail  []error
}

func (t *targets) deliver(topic string, partition int32, batch []byte) (func() error, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fail) > 0 {
		err := t.fail[0]
		t.fail = t.fail[1:]
		return nil, err
	}
	_, recs, err := log.DecodeRecords(batch)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		t.got = append(t.got, delivery{topic, partition, string(r.Key), string(r.Value), t.clock.Now()})
	}
	return func() error { return nil }, nil
}

func (t *targets) values() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, d := range t.got {
		out = append(out, d.value)
	}
	return out
}

type harness struct {
	t     *testing.T
	dir   string
	log   *memLog
	clock *fakeClock
	tg    *targets
	s     *Scheduler
	cfg   Config
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	t.Helper()
	clock := &fakeClock{now: epoch}
	h := &harness{t: t, dir: t.TempDir(), log: &memLog{}, clock: clock, tg: &targets{clock: clock}}
	h.cfg = DefaultConfig(h.dir)
	h.open()
	return h
}

// open starts a scheduler over the harness's log and index dir, as a
// broker does at start-up.
func (h *harness) open() {
	h.t.Helper()
	s, err := New(h.cfg, Options{Log: h.log, Deliver: h.tg.deliver, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.s = s
}

// crash drops the scheduler without Close (no final checkpoint).
func (h *harness) crash() { h.open() }

func (h *harness) restart() {
	h.t.Helper()
	if err := h.s.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

func (h *harness) schedule(key, value string, in time.Duration) {
	h.t.Helper()
	var k []byte
	if key != "" {
		k = []byte(key)
	}
	err := h.s.Schedule(Message{Topic: "orders", Partition: 0, Key: k, Value: []byte(value), DeliverAt: h.clock.Now().Add(in)})
	if err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the clock in steps, running the scheduler at each, as its
// timer would.
func (h *harness) advance(d, step time.Duration) {
	h.t.Helper()
	for end := h.clock.Now().Add(d); h.clock.Now().Before(end); {
		h.clock.Advance(min(step, end.Sub(h.clock.Now())))
		h.s.step()
	}
}

func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.tg.values()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Fatalf("delivered %q, want %q", got, want)
	}
}
