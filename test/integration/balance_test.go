package integration

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// balanceLoad produces to every partition of a topic until stopped,
// with acks=all and idempotence, and remembers which records were
// acknowledged and every error a record finally failed with (after the
// client's own retries).
type balanceLoad struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	acked  map[string]bool
	failed []error
}

func startBalanceLoad(t *testing.T, addrs []string, topic string) *balanceLoad {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lp := &balanceLoad{cl: cl, cancel: cancel, done: make(chan struct{}), acked: map[string]bool{}}
	go func() {
		defer close(lp.done)
		value := []byte(strings.Repeat("v", 200))
		for i := 0; ctx.Err() == nil; i++ {
			key := fmt.Sprintf("k%07d", i)
			cl.Produce(ctx, &kgo.Record{Key: []byte(key), Value: value}, func(r *kgo.Record, err error) {
				lp.mu.Lock()
				defer lp.mu.Unlock()
				if err == nil {
					lp.acked[string(r.Key)] = true
				} else if ctx.Err() == nil {
					lp.failed = append(lp.failed, fmt.Errorf("%s: %w", r.Key, err))
				}
			})
			if i%200 == 199 {
				time.Sleep(10 * time.Millisecond) // about 20k records/s at most
			}
		}
	}()
	return lp
}

// stop ends the load once every produced record has an answer and
// returns the acknowledged keys.
func (lp *balanceLoad) stop(t *testing.T) map[string]bool {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	// Flush first: records cancelled by the context are not acknowledged
	// and are left out.
	if err := lp.cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	lp.cancel()
	<-lp.done
	lp.cl.Close()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.failed) > 0 {
		t.Fatalf("%d records failed after the client's retries, first: %v", len(lp.failed), lp.failed[0])
	}
	return lp.acked
}

func (lp *balanceLoad) ackedCount() int {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return len(lp.acked)
}

// checkBalanceAcked reads topic from the start and fails unless every
// acknowledged key is there.
func checkBalanceAcked(t *testing.T, addr, topic string, acked map[string]bool) {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	missing := maps2set(acked)
	ctx := testCtx(t, 120*time.Second)
	for len(missing) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d acknowledged records missing, e.g. %v", len(missing), len(acked), firstKeys(missing, 5))
		}
		fs.EachRecord(func(r *kgo.Record) { delete(missing, string(r.Key)) })
	}
}

func maps2set(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func firstKeys(m map[string]bool, n int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// layout is where the replicas of every topic are, as Metadata says.
type layout struct {
	brokers  []int32
	replicas map[int32]int // per broker
	leaders  map[int32]int // preferred leaders (first replica) per broker
	moving   int           // partitions being reassigned
}

func readLayout(t *testing.T, cl *kgo.Client) (layout, error) {
	md, err := kadm.NewClient(cl).Metadata(testCtx(t, 10*time.Second))
	if err != nil {
		return layout{}, err
	}
	l := layout{replicas: map[int32]int{}, leaders: map[int32]int{}}
	for _, b := range md.Brokers {
		l.brokers = append(l.brokers, b.NodeID)
	}
	slices.Sort(l.brokers)
	for _, td := range md.Topics {
		for _, pd := range td.Partitions {
			for i, r := range pd.Replicas {
				l.replicas[r]++
				if i == 0 {
					l.leaders[r]++
				}
			}
		}
	}
	// kadm asks for nothing when given no topics: a null list asks for all.
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		return layout{}, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return layout{}, err
	}
	for _, rt := range resp.Topics {
		l.moving += len(rt.Partitions)
	}
	return l, nil
}

// balancedWithin reports whether counts over brokers are within 10% of
// their mean, rounded outward (as the planner defines it).
func balancedWithin(counts map[int32]int, brokers []int32) bool {
	total := 0
	for _, b := range brokers {
		total += counts[b]
	}
	mean := float64(total) / float64(len(brokers))
	lo, hi := int(math.Floor(mean*0.9)), int(math.Ceil(mean*1.1))
	for _, b := range brokers {
		if counts[b] < lo || counts[b] > hi {
			return false
		}
	}
	return true
}

// waitLayout polls the layout until ok accepts it.
func waitLayout(t *testing.T, cl *kgo.Client, d time.Duration, what string, ok func(layout) bool) layout {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		l, err := readLayout(t, cl)
		if err == nil && ok(l) {
			return l
		}
		last = fmt.Sprintf("%+v (err %v)", l, err)
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; last layout %s", what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A three-broker cluster holding a replicated topic grows to five under
// produce load (acks=all): the controller moves replicas and preferred
// leaders onto the new brokers until every broker is within 10% of the
// mean, and every acknowledged record is still there.
func TestBalanceGrowingFromThreeToFiveUnderLoad(t *testing.T) {
	procs, args := startClusterWith(t, 3, "--balance-max-moves", "3")
	quorum := args[0][slices.Index(args[0], "--controller-quorum")+1]
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	topic := topicName(t)
	createBalanceTopic(t, adm, topic, 10, 3)

	load := startBalanceLoad(t, []string{procs[0].addr, procs[1].addr, procs[2].addr}, topic)
	waitFor(t, 30*time.Second, "records acknowledged before the growth", func() bool { return load.ackedCount() > 2000 })

	for _, id := range []string{"4", "5"} {
		startFerry(t, t.TempDir(), "--node-id", id, "--controller-addr", freeAddr(t), "--controller-quorum", quorum,
			"--group-initial-rebalance-delay", "0s")
	}
	l := waitLayout(t, cl, 180*time.Second, "five balanced brokers", func(l layout) bool {
		return slices.Equal(l.brokers, []int32{1, 2, 3, 4, 5}) && l.moving == 0 && l.replicas[4] > 0 && l.replicas[5] > 0 &&
			balancedWithin(l.replicas, l.brokers) && balancedWithin(l.leaders, l.brokers)
	})
	t.Logf("balanced: replicas %v, preferred leaders %v", l.replicas, l.leaders)
	acked := load.stop(t)
	checkBalanceAcked(t, procs[0].addr, topic, acked)
	t.Logf("%d acknowledged records, all read back", len(acked))
}

// A broker being decommissioned under produce load is drained with
// `ferry cluster decommission N --wait`: no replica stays on it, status
// shows it drained, and once it is killed every partition still has its
// full replica set in sync and every acknowledged record is there.
func TestBalanceDecommissionUnderLoad(t *testing.T) {
	procs, args := startClusterWith(t, 3)
	quorum := args[0][slices.Index(args[0], "--controller-quorum")+1]
	p4 := startFerry(t, t.TempDir(), "--node-id", "4", "--controller-addr", freeAddr(t), "--controller-quorum", quorum,
		"--group-initial-rebalance-delay", "0s")
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	waitLayout(t, cl, 30*time.Second, "four brokers", func(l layout) bool { return slices.Equal(l.brokers, []int32{1, 2, 3, 4}) })
	topic := topicName(t)
	createBalanceTopic(t, adm, topic, 8, 2)
	if l, _ := readLayout(t, cl); l.replicas[4] == 0 {
		t.Fatalf("broker 4 holds no replica to drain: %+v", l)
	}

	load := startBalanceLoad(t, []string{procs[0].addr, procs[1].addr, procs[2].addr}, topic)
	waitFor(t, 30*time.Second, "records acknowledged before the drain", func() bool { return load.ackedCount() > 2000 })

	bin := ferryBinary(t)
	out, err := exec.CommandContext(testCtx(t, 120*time.Second), bin, "cluster", "decommission", "4", "--wait", "--brokers", procs[1].addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "broker 4 is drained") {
		t.Fatalf("decommission: %v\n%s", err, out)
	}
	t.Logf("decommission:\n%s", out)
	status, _ := exec.Command(bin, "cluster", "status", "--brokers", procs[0].addr).CombinedOutput()
	if !strings.Contains(string(status), "drained: safe to stop") {
		t.Fatalf("status does not show broker 4 drained:\n%s", status)
	}
	// A new topic is not placed on the drained broker.
	createBalanceTopic(t, adm, topic+"-after", 6, 2)
	if l, _ := readLayout(t, cl); l.replicas[4] != 0 {
		t.Fatalf("a replica was placed on the drained broker: %+v", l)
	}

	p4.kill()
	// The balancer may still even out brokers 1-3, one batch of moves
	// after another (a partition moving lists its old and new replicas):
	// wait until it has finished and every partition has its two
	// replicas, none on broker 4, all in sync. A replica left on broker
	// 4, or a partition below its replication factor, never gets there.
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last partition state seen: %s", last)
		}
	})
	waitLayout(t, cl, 90*time.Second, "two in-sync replicas per partition, none on broker 4, nothing moving", func(l layout) bool {
		if l.moving != 0 || l.replicas[4] != 0 {
			last = fmt.Sprintf("%d moving, %d replicas on broker 4", l.moving, l.replicas[4])
			return false
		}
		md, err := adm.Metadata(testCtx(t, 10*time.Second), topic)
		if err != nil {
			last = err.Error()
			return false
		}
		for _, pd := range md.Topics[topic].Partitions {
			if len(pd.Replicas) != 2 || slices.Contains(pd.Replicas, 4) || len(pd.ISR) != len(pd.Replicas) || pd.Leader < 0 {
				last = fmt.Sprintf("partition %d: replicas %v, ISR %v, leader %d", pd.Partition, pd.Replicas, pd.ISR, pd.Leader)
				return false
			}
		}
		return true
	})
	acked := load.stop(t)
	checkBalanceAcked(t, procs[0].addr, topic, acked)
	t.Logf("%d acknowledged records, all read back", len(acked))
}

// createBalanceTopic creates topic with partitions and replication factor rf
// and waits until every partition has a leader that answers for it.
func createBalanceTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, rf int16) {
	t.Helper()
	resp, err := adm.CreateTopic(testCtx(t, 30*time.Second), partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	// Every leader answers for it (see createReplicatedTopic).
	waitFor(t, 30*time.Second, topic+" led everywhere", func() bool {
		ends, err := adm.ListEndOffsets(testCtx(t, 10*time.Second), topic)
		return err == nil && ends.Error() == nil && len(ends[topic]) == int(partitions)
	})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
