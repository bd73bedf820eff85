package broker

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/meta"
)

// leaderReplica opens a one-partition topic on a single node and makes it
// the leader of a three-replica placement (nodes 0, 1, 2) whose ISR
// changes land in proposed instead of the controller.
func leaderReplica(t *testing.T, isr []int32) (*Partition, *proposals) {
	t.Helper()
	b := newTestBroker(t)
	if _, err := b.CreateTopic("r", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p, err := b.Partition("r", 0)
	if err != nil {
		t.Fatal(err)
	}
	props := &proposals{}
	p.proposer = props.propose
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 0, LeaderEpoch: 1, ISR: isr, PartitionEpoch: 1}, 0)
	if !p.Leading() || !p.Replicated() {
		t.Fatal("placement did not make node 0 the leader of a replicated partition")
	}
	return p, props
}

type proposals struct {
	mu   sync.Mutex
	isrs [][]int32
	done chan struct{}
}

func (pr *proposals) propose(p *Partition, epoch, pepoch int32, change func([]int32) []int32) error {
	p.repl.mu.Lock()
	isr := change(slices.Clone(p.repl.isr))
	p.repl.mu.Unlock()
	pr.mu.Lock()
	pr.isrs = append(pr.isrs, isr)
	pr.mu.Unlock()
	return nil
}

func (pr *proposals) wait(t *testing.T, n int) [][]int32 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		pr.mu.Lock()
		got := slices.Clone(pr.isrs)
		pr.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ISR proposals, want %d", len(got), n)
		}
	}
}

func appendRecords(t *testing.T, p *Partition, n int) int64 {
	t.Helper()
	var last AppendResult
	for range n {
		res, err := p.Append(log.NewBatch([]log.KeyValue{{Value: []byte("x")}}, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	if err := p.Sync(last.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	return last.LastOffset + 1
}

// The high watermark is the lowest log end over the ISR: it waits for
// every ISR follower's fetch, ignores followers outside the ISR, and never
// goes down.
func TestHighWatermarkIsISRMinimum(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0, 1})
	end := appendRecords(t, p, 5)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before any follower fetched, want 0", hw)
	}
	now := time.Now()
	if err := p.FollowerFetched(2, 1, end, now); err != nil { // not in the ISR
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d after a non-ISR follower fetched, want 0", hw)
	}
	if err := p.FollowerFetched(1, 1, 3, now); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d, want 3 (follower 1's log end)", hw)
	}
	if err := p.FollowerFetched(1, 1, 2, now); err != nil { // an old fetch arriving late
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark went back to %d", hw)
	}
	if err := p.FollowerFetched(1, 1, end, now); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("high watermark %d, want the log end %d", hw, end)
	}
}

// Fetches under another leader epoch, or from a node that holds no
// replica, do not count.
func TestFollowerFetchChecksEpochAndReplica(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0, 1, 2})
	for _, c := range []struct {
		node, epoch int32
		want        error
	}{
		{1, 0, kerr.FencedLeaderEpoch},
		{1, 2, kerr.UnknownLeaderEpoch},
		{7, 1, kerr.NotLeaderForPartition},
	} {
		if err := p.FollowerFetched(c.node, c.epoch, 0, time.Now()); !errors.Is(err, c.want) {
			t.Errorf("fetch by node %d at epoch %d: %v, want %v", c.node, c.epoch, err, c.want)
		}
	}
}

// A follower that stops fetching leaves the ISR after the lag limit; one
// that catches up is proposed back in.
func TestISRShrinksAndExpands(t *testing.T) {
	p, props := leaderReplica(t, []int32{0, 1, 2})
	end := appendRecords(t, p, 3)
	start := time.Now()
	p.FollowerFetched(1, 1, end, start)
	p.FollowerFetched(2, 1, 1, start)
	p.shrinkISR(start.Add(time.Second), 5*time.Second)
	if got := props.wait(t, 0); len(got) != 0 {
		t.Fatalf("ISR change %v before the lag limit", got)
	}
	p.FollowerFetched(1, 1, end, start.Add(5*time.Second))
	p.shrinkISR(start.Add(6*time.Second), 5*time.Second)
	if got := props.wait(t, 1); !slices.Equal(got[0], []int32{0, 1}) {
		t.Fatalf("proposed ISR %v, want [0 1] (follower 2 lagged)", got[0])
	}
	// The controller applied it.
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 0, LeaderEpoch: 1, ISR: []int32{0, 1}, PartitionEpoch: 2}, 0)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		p.repl.mu.Lock()
		busy := p.repl.isrChanging
		p.repl.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ISR proposal never finished")
		}
	}
	p.FollowerFetched(2, 1, end, start.Add(7*time.Second))
	if got := props.wait(t, 2); !slices.Equal(got[1], []int32{0, 1, 2}) {
		t.Fatalf("proposed ISR %v, want [0 1 2] (follower 2 caught up)", got[1])
	}
}

// acks=all: refused up front below min.insync.replicas, answered once the
// ISR has the record, and told when the partition's leadership moves away
// while it waits.
func TestWaitReplicated(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0, 1})
	tc := p.config
	tc.MinInsyncReplicas = 3
	p.setConfig(tc)
	if err := p.CheckMinISR(); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("CheckMinISR with 2 in-sync replicas and min 3: %v", err)
	}
	tc.MinInsyncReplicas = 2
	p.setConfig(tc)
	if err := p.CheckMinISR(); err != nil {
		t.Fatal(err)
	}
	end := appendRecords(t, p, 2)
	if err := p.WaitReplicated(end, 50*time.Millisecond); !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("wait with no follower fetch: %v, want REQUEST_TIMED_OUT", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitReplicated(end, 10*time.Second) }()
	p.FollowerFetched(1, 1, end, time.Now())
	if err := <-done; err != nil {
		t.Fatalf("wait after the follower fetched: %v", err)
	}
	end = appendRecords(t, p, 1)
	go func() { done <- p.WaitReplicated(end, 10*time.Second) }()
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 1, LeaderEpoch: 2, ISR: []int32{1}, PartitionEpoch: 3}, 0)
	if err := <-done; !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("wait across a leader change: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
}

// A follower truncated to where it agrees with a new leader forgets the
// producer state of the batches cut: the producer's re-sent batch is
// appended again, not answered as a duplicate of records that are gone.
func TestTruncationRebuildsProducerState(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0, 1})
	mk := func(seq int32) []byte {
		b := log.NewBatch([]log.KeyValue{{Value: []byte("x")}}, time.Now())
		setProducer(b, 7, 0, seq)
		return b
	}
	if _, err := p.Append(mk(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(mk(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.truncateTo(1); err != nil {
		t.Fatal(err)
	}
	res, err := p.Append(mk(1))
	if err != nil {
		t.Fatalf("re-sent batch after truncation: %v", err)
	}
	if res.BaseOffset != 1 || p.log.EndOffset() != 2 {
		t.Fatalf("re-sent batch answered at %d with log end %d, want appended again at 1 (end 2)", res.BaseOffset, p.log.EndOffset())
	}
}

// setProducer stamps an idempotent producer's id, epoch and first sequence
// into a batch and recomputes its CRC.
func setProducer(b []byte, id int64, epoch int16, seq int32) {
	binary.BigEndian.PutUint64(b[43:], uint64(id))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// A leader alone in the ISR commits as its own log becomes durable, and an
// ISR shrink applied from the controller lets the high watermark move at
// once past the dropped follower.
func TestHighWatermarkMovesWithoutFollowerFetches(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0})
	end := appendRecords(t, p, 3)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("leader alone in the ISR: high watermark %d, want %d", hw, end)
	}

	p, _ = leaderReplica(t, []int32{0, 1, 2})
	end = appendRecords(t, p, 3)
	p.FollowerFetched(1, 1, end, time.Now())
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d while follower 2 has fetched nothing", hw)
	}
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 0, LeaderEpoch: 1, ISR: []int32{0, 1}, PartitionEpoch: 2}, 0)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("after follower 2 left the ISR: high watermark %d, want %d", hw, end)
	}
}

// A new leader that took over with a lower high watermark than the old
// leader published answers OFFSET_NOT_AVAILABLE until its followers'
// fetches commit up to the start of its epoch, so clients never see the
// high watermark go back.
func TestNewLeaderNotEstablishedUntilEpochStartCommitted(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0})
	end := appendRecords(t, p, 4)
	// Node 0 now follows, and learns a high watermark of 2.
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 1, LeaderEpoch: 2, ISR: []int32{0, 1}, PartitionEpoch: 2}, 0)
	p.repl.hw.Store(2)
	// And takes over again, with follower 1 in its ISR.
	p.applyPlacement(meta.Placement{Replicas: []int32{0, 1, 2}, Leader: 0, LeaderEpoch: 3, ISR: []int32{0, 1}, PartitionEpoch: 3}, 0)
	if err := p.CheckEstablished(); !errors.Is(err, kerr.OffsetNotAvailable) {
		t.Fatalf("new leader with high watermark 2 below its epoch start %d: %v, want OFFSET_NOT_AVAILABLE", end, err)
	}
	if err := p.FollowerFetched(1, 3, end, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckEstablished(); err != nil {
		t.Fatalf("after the follower fetched up to the epoch start: %v", err)
	}
}
