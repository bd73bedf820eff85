package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// memLog is an in-memory Log: batches with offsets assigned.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
	synced  int64
}

func (l *memLog) Append(b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint64(b, uint64(l.next))
	n := int64(binary.BigEndian.Uint32(b[23:])) + 1
	l.next += n
	l.batches = append(l.batches, b)
	return l.next, nil
}

func (l *memLog) Sync(upTo int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.synced = max(l.synced, upTo)
	return nil
}

func (l *memLog) Read(offset int64, _ int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		if int64(binary.BigEndian.Uint64(b)) >= offset {
			out = append(out, b...)
		}
	}
	return out, nil
}

type marker struct {
	topic  string
	part   int32
	pid    int64
	epoch  int16
	commit bool
}

type fakeParts struct {
	mu      sync.Mutex
	markers []marker
	fail    bool
}

func (f *fakeParts) Exists(topic string, _ int32) bool { return topic != "missing" }

func (f *fakeParts) WriteMarker(topic string, p int32, pid int64, epoch int16, commit bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("disk on fire")
	}
	f.markers = append(f.markers, marker{topic, p, pid, epoch, commit})
	return nil
}

func (f *fakeParts) take() []marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.markers
	f.markers = nil
	// Markers of one transaction are written concurrently.
	sort.Slice(m, func(i, j int) bool { return fmt.Sprint(m[i]) < fmt.Sprint(m[j]) })
	return m
}

// fakeOffsets receives the offsets of type-100 records (LegacyOffsets).
type fakeOffsets struct {
	mu        sync.Mutex
	committed map[string]int64 // group/topic/partition -> offset
}

func (f *fakeOffsets) CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.committed == nil {
		f.committed = map[string]int64{}
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			f.committed[fmt.Sprintf("%s/%s/%d", req.Group, t.Topic, p.Partition)] = p.Offset
		}
	}
	return nil
}

type harness struct {
	c       *Coordinator
	log     *memLog
	parts   *fakeParts
	offsets *fakeOffsets
	now     time.Time
	nextPID int64
}

func newHarness(t *testing.T, l *memLog) *harness {
	t.Helper()
	h := &harness{log: l, parts: &fakeParts{}, offsets: &fakeOffsets{}, now: time.Unix(1_700_000_000, 0), nextPID: 100}
	h.c = New(Config{MaxTimeout: time.Minute, IDExpiration: time.Hour}, l, Options{
		Now:              func() time.Time { return h.now },
		NewProducerID:    func() (int64, error) { h.nextPID++; return h.nextPID, nil },
		Partitions:       h.parts,
		LegacyOffsets:    h.offsets,
		OffsetsTopic:     "__consumer_offsets",
		OffsetsPartition: func(group string) int32 { return int32(len(group)) },
	})
	if err := h.c.Load(); err != nil {
		t.Fatal(err)
	}
	h.c.Recover()
	return h
}

func mustInit(t *testing.T, h *harness, id string) (int64, int16) {
	t.Helper()
	pid, epoch, err := h.c.InitProducerID(id, 10_000, -1, -1)
	if err != nil {
		t.Fatalf("init %s: %v", id, err)
	}
	return pid, epoch
}

func mustAdd(t *testing.T, h *harness, id string, pid int64, epoch int16, parts ...Partition) {
	t.Helper()
	bad, err := h.c.AddPartitions(id, pid, epoch, parts)
	if err != nil || bad != nil {
		t.Fatalf("add partitions: %v %v", err, bad)
	}
}

func wantErr(t *testing.T, what string, got, want *kerr.Error) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func state(h *harness, id string) string {
	d, ok := h.c.Describe(id)
	if !ok {
		return "unknown"
	}
	return d.State
}

func TestInitBumpsEpochAndFences(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, e0 := mustInit(t, h, "a")
	pid2, e1 := mustInit(t, h, "a")
	if pid2 != pid || e1 != e0+1 {
		t.Fatalf("re-init gave %d/%d after %d/%d", pid2, e1, pid, e0)
	}
	_, err := h.c.AddPartitions("a", pid, e0, []Partition{{"t", 0}})
	wantErr(t, "add with old epoch", err, kerr.ProducerFenced)
	wantErr(t, "end with old epoch", h.c.EndTxn("a", pid, e0, true), kerr.ProducerFenced)
	wantErr(t, "end with other pid", h.c.EndTxn("a", pid+1, e1, true), kerr.InvalidProducerIDMapping)
	wantErr(t, "end unknown id", h.c.EndTxn("nope", pid, e1, true), kerr.InvalidProducerIDMapping)
	wantErr(t, "end with no txn", h.c.EndTxn("a", pid, e1, true), kerr.InvalidTxnState)
	wantErr(t, "produce outside txn", h.c.InTransaction("a", pid, e1, "t", 0), kerr.InvalidTxnState)
	if _, _, err := h.c.InitProducerID("a", int32(2*time.Minute/time.Millisecond), -1, -1); err != kerr.InvalidTransactionTimeout {
		t.Fatalf("timeout over max: %v", err)
	}
	// KIP-360: a re-init naming a stale epoch is fenced.
	if _, _, err := h.c.InitProducerID("a", 10_000, pid, e0); err != kerr.ProducerFenced {
		t.Fatalf("re-init with stale epoch: %v", err)
	}
}

func TestCommitAndAbortWriteMarkers(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, ep := mustInit(t, h, "a")
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0}, Partition{"t", 1})
	mustAdd(t, h, "a", pid, ep, Partition{"u", 0})
	if s := state(h, "a"); s != "Ongoing" {
		t.Fatalf("state %s", s)
	}
	wantErr(t, "produce in txn", h.c.InTransaction("a", pid, ep, "t", 1), nil)
	wantErr(t, "produce to partition not added", h.c.InTransaction("a", pid, ep, "t", 2), kerr.InvalidTxnState)
	wantErr(t, "commit", h.c.EndTxn("a", pid, ep, true), nil)
	got := h.parts.take()
	want := []marker{{"t", 0, pid, ep, true}, {"t", 1, pid, ep, true}, {"u", 0, pid, ep, true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
	if s := state(h, "a"); s != "CompleteCommit" {
		t.Fatalf("state %s", s)
	}
	wantErr(t, "retried commit", h.c.EndTxn("a", pid, ep, true), nil)
	wantErr(t, "abort after commit", h.c.EndTxn("a", pid, ep, false), kerr.InvalidTxnState)
	if m := h.parts.take(); len(m) != 0 {
		t.Fatalf("retry wrote markers again: %v", m)
	}

	mustAdd(t, h, "a", pid, ep, Partition{"t", 2})
	wantErr(t, "abort", h.c.EndTxn("a", pid, ep, false), nil)
	if got := h.parts.take(); fmt.Sprint(got) != fmt.Sprint([]marker{{"t", 2, pid, ep, false}}) {
		t.Fatalf("abort markers %v", got)
	}
	bad, err := h.c.AddPartitions("a", pid, ep, []Partition{{"t", 0}, {"missing", 0}})
	if err != nil || bad[Partition{"missing", 0}] != kerr.UnknownTopicOrPartition || bad[Partition{"t", 0}] != kerr.OperationNotAttempted {
		t.Fatalf("unknown partition: %v %v", err, bad)
	}
}

func TestReinitAbortsOpenTransaction(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, ep := mustInit(t, h, "a")
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0})
	pid2, ep2 := mustInit(t, h, "a")
	if pid2 != pid || ep2 != ep+1 {
		t.Fatalf("re-init gave %d/%d", pid2, ep2)
	}
	if got := h.parts.take(); fmt.Sprint(got) != fmt.Sprint([]marker{{"t", 0, pid, ep2, false}}) {
		t.Fatalf("markers %v: want an abort with the new epoch", got)
	}
	wantErr(t, "zombie commit", h.c.EndTxn("a", pid, ep, true), kerr.ProducerFenced)
}

func TestTimeoutAbortsAndFences(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, ep := mustInit(t, h, "a") // 10s timeout
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0})
	h.now = h.now.Add(9 * time.Second)
	h.c.Tick()
	if m := h.parts.take(); len(m) != 0 {
		t.Fatalf("aborted before its timeout: %v", m)
	}
	h.now = h.now.Add(2 * time.Second)
	h.c.Tick()
	if got := h.parts.take(); fmt.Sprint(got) != fmt.Sprint([]marker{{"t", 0, pid, ep + 1, false}}) {
		t.Fatalf("markers %v", got)
	}
	if s := state(h, "a"); s != "CompleteAbort" {
		t.Fatalf("state %s", s)
	}
	wantErr(t, "commit after timeout", h.c.EndTxn("a", pid, ep, true), kerr.ProducerFenced)
}

// AddOffsetsToTxn puts the group's partition of __consumer_offsets into
// the transaction: TxnOffsetCommit (served by the group coordinator) is
// verified against it, and the end of the transaction sends it a marker,
// which makes the group's pending offsets visible or drops them.
func TestAddOffsetsPutsTheGroupsPartitionInTheTransaction(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, ep := mustInit(t, h, "a")
	wantErr(t, "offsets before AddOffsets", h.c.VerifyOffsets("a", pid, ep, "grp"), kerr.InvalidTxnState)
	wantErr(t, "add offsets", h.c.AddOffsets("a", pid, ep, "grp"), nil)
	wantErr(t, "offsets of the added group", h.c.VerifyOffsets("a", pid, ep, "grp"), nil)
	wantErr(t, "offsets of another group", h.c.VerifyOffsets("a", pid, ep, "group7"), kerr.InvalidTxnState)
	wantErr(t, "stale epoch", h.c.VerifyOffsets("a", pid, ep-1, "grp"), kerr.ProducerFenced)
	wantErr(t, "abort", h.c.EndTxn("a", pid, ep, false), nil)
	if got, want := h.parts.take(), []marker{{"__consumer_offsets", 3, pid, ep, false}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
	wantErr(t, "offsets after the end", h.c.VerifyOffsets("a", pid, ep, "grp"), kerr.InvalidTxnState)
	wantErr(t, "add offsets", h.c.AddOffsets("a", pid, ep, "grp"), nil)
	wantErr(t, "commit", h.c.EndTxn("a", pid, ep, true), nil)
	if got, want := h.parts.take(), []marker{{"__consumer_offsets", 3, pid, ep, true}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
}

// pendingRecord is the type-100 record of offsets an older Ferry kept in
// __transaction_state for an open transaction.
func pendingRecord(req *kmsg.TxnOffsetCommitRequest) kv {
	key := kbin.AppendInt16(nil, pendingOffsetsKeyVersion)
	key = kbin.AppendString(key, req.TransactionalID)
	value := kbin.AppendInt16(nil, 0)
	value = req.AppendTo(value)
	return kv{Key: key, Value: value}
}

func TestRecoveryFromLog(t *testing.T) {
	l := &memLog{}
	h := newHarness(t, l)
	pidA, epA := mustInit(t, h, "a")
	mustInit(t, h, "a")
	epA++
	mustAdd(t, h, "a", pidA, epA, Partition{"t", 0})
	wantErr(t, "add offsets", h.c.AddOffsets("a", pidA, epA, "g"), nil)
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "a", "g", pidA, epA, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Offset = 42
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	// An older Ferry kept the transaction's offsets here (type 100); they
	// still commit after an upgrade.
	if _, err := l.Append(log.NewBatch([]kv{pendingRecord(r)}, h.now)); err != nil {
		t.Fatal(err)
	}

	pidB, epB := mustInit(t, h, "b")
	mustAdd(t, h, "b", pidB, epB, Partition{"t", 1})

	// "a" decides to commit but its markers fail: the broker stops in
	// PrepareCommit.
	h.parts.fail = true
	wantErr(t, "commit with failing markers", h.c.EndTxn("a", pidA, epA, true), kerr.ConcurrentTransactions)
	if s := state(h, "a"); s != "PrepareCommit" {
		t.Fatalf("state %s", s)
	}
	h.c.Close()

	h2 := newHarness(t, l) // Load + Recover
	if got := h2.parts.take(); fmt.Sprint(got) != fmt.Sprint([]marker{{"__consumer_offsets", 1, pidA, epA, true}, {"t", 0, pidA, epA, true}}) {
		t.Fatalf("recovery markers %v", got)
	}
	if got := h2.offsets.committed["g/in/0"]; got != 42 {
		t.Fatalf("recovered commit's offset %d, want 42", got)
	}
	if s := state(h2, "a"); s != "CompleteCommit" {
		t.Fatalf("a after recovery: %s", s)
	}
	d, _ := h2.c.Describe("b")
	if d.State != "Ongoing" || d.ProducerID != pidB || d.Epoch != epB || fmt.Sprint(d.Partitions) != fmt.Sprint([]Partition{{"t", 1}}) {
		t.Fatalf("b after recovery: %+v", d)
	}
	// The ongoing transaction keeps its deadline across the restart.
	h2.now = h.now.Add(11 * time.Second)
	h2.c.Tick()
	if got := h2.parts.take(); fmt.Sprint(got) != fmt.Sprint([]marker{{"t", 1, pidB, epB + 1, false}}) {
		t.Fatalf("timeout after recovery: %v", got)
	}
	// And the epoch survives: a re-init bumps past it.
	if _, ep, err := h2.c.InitProducerID("a", 10_000, -1, -1); err != nil || ep != epA+1 {
		t.Fatalf("re-init after recovery: epoch %d err %v", ep, err)
	}
}

func TestIdleIDsExpire(t *testing.T) {
	l := &memLog{}
	h := newHarness(t, l)
	mustInit(t, h, "a")
	pid, ep := mustInit(t, h, "b")
	mustAdd(t, h, "b", pid, ep, Partition{"t", 0})
	h.now = h.now.Add(59 * time.Minute)
	h.c.Tick() // aborts b (timed out), a not yet expired
	h.now = h.now.Add(2 * time.Minute)
	h.c.Tick()
	if s := state(h, "a"); s != "unknown" {
		t.Fatalf("a not expired: %s", s)
	}
	if s := state(h, "b"); s != "CompleteAbort" {
		t.Fatalf("b (touched by its abort) expired early: %s", s)
	}
	h2 := newHarness(t, l)
	if s := state(h2, "a"); s != "unknown" {
		t.Fatalf("a back after reload: %s", s)
	}
	if got := len(h2.c.List()); got != 1 {
		t.Fatalf("%d ids after reload, want 1", got)
	}
}
