package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumed records, per partition, which offsets any member has read.
type consumed struct {
	mu   sync.Mutex
	seen map[int32]map[int64]bool
}

func (c *consumed) add(rs []*kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		if c.seen[r.Partition] == nil {
			c.seen[r.Partition] = map[int64]bool{}
		}
		c.seen[r.Partition][r.Offset] = true
	}
}

// missing lists, per partition, the offsets below ends nobody has read.
func (c *consumed) missing(ends map[int32]int64) map[int32][]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int32][]int64{}
	for p, end := range ends {
		for o := int64(0); o < end; o++ {
			if !c.seen[p][o] {
				out[p] = append(out[p], o)
			}
		}
	}
	return out
}

func (c *consumed) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.seen {
		n += len(s)
	}
	return n
}

// groupCoordinatorNode asks FindCoordinator which broker coordinates group.
func groupCoordinatorNode(t *testing.T, adm *kadm.Client, group string) int32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := adm.FindGroupCoordinators(testCtx(t, 5*time.Second), group)
		r, ok := resp[group]
		if ok && r.Err == nil {
			return r.NodeID
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator(%s): %+v", group, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestGroupCoordinatorFailoverSIGKILL: three members of a group consume a
// replicated topic and commit as they go; the broker coordinating the
// group (the leader of its __consumer_offsets partition) is SIGKILLed.
// Another broker becomes that partition's leader, loads the group from
// the replicated partition, FindCoordinator names it, and the members go
// on from the committed offsets: every record is read (at least once),
// none skipped. The members reset to the END of a partition without a
// commit, so a new coordinator that lost the commits would skip records.
func TestGroupCoordinatorFailoverSIGKILL(t *testing.T) {
	args := clusterArgs(t, 3)
	procs, _ := startClusterNodes(t, args, nil)
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	adm := kadm.NewClient(newClient(t, seeds[0], kgo.SeedBrokers(seeds...)))
	topic := topicName(t)
	group := topic + "-g"
	const parts = 6
	createReplicatedTopic(t, adm, topic, parts)

	prod := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produce := func(from, to int) {
		t.Helper()
		ctx := testCtx(t, 60*time.Second)
		for i := from; i < to; i += 100 {
			var rs []*kgo.Record
			for j := i; j < min(i+100, to); j++ {
				rs = append(rs, kgo.StringRecord(fmt.Sprintf("r%05d", j)))
			}
			if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	const half = 3000
	produce(0, half)

	// The group starts at offset 0 everywhere; from then on only commits
	// say where to resume.
	start := kadm.Offsets{}
	for p := range int32(parts) {
		start.AddOffset(topic, p, 0, -1)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := adm.CommitOffsets(testCtx(t, 10*time.Second), group, start)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("initial commit: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	coordinator := groupCoordinatorNode(t, adm, group)
	controller := int32(-1)
	if md, err := adm.BrokerMetadata(testCtx(t, 10*time.Second)); err == nil {
		controller = md.Controller
	}
	t.Logf("group %s is coordinated by broker %d (the controller is %d)", group, coordinator, controller)

	seen := &consumed{seen: map[int32]map[int64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var commitMu sync.Mutex
	var killed, firstCommitAfterKill time.Time
	var members sync.WaitGroup
	for m := range 3 {
		cl := newClient(t, seeds[m], kgo.SeedBrokers(seeds...),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
			kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
			kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(4<<10),
			kgo.RetryTimeout(time.Minute))
		members.Add(1)
		go func() {
			defer members.Done()
			for ctx.Err() == nil {
				fs := cl.PollRecords(ctx, 50)
				if ctx.Err() != nil {
					return
				}
				seen.add(fs.Records())
				// Errors while the coordinator moves are retried by the
				// next commit; what is not committed is read again.
				if err := cl.CommitUncommittedOffsets(ctx); err == nil {
					commitMu.Lock()
					if !killed.IsZero() && firstCommitAfterKill.IsZero() {
						firstCommitAfterKill = time.Now()
					}
					commitMu.Unlock()
				}
				time.Sleep(20 * time.Millisecond) // spread the backlog over the kill
			}
		}()
	}

	// Kill the coordinator once the members are well into the backlog.
	for deadline := time.Now().Add(60 * time.Second); seen.count() < half/3; {
		if time.Now().After(deadline) {
			t.Fatalf("members read %d of %d records before the kill", seen.count(), half)
		}
		time.Sleep(50 * time.Millisecond)
	}
	victim := procs[coordinator-1]
	commitMu.Lock()
	killed = time.Now()
	commitMu.Unlock()
	victim.kill()
	t.Logf("killed broker %d after %d records were read", coordinator, seen.count())
	var live []string
	for i, p := range procs {
		if int32(i+1) != coordinator {
			live = append(live, p.addr)
		}
	}
	adm2 := kadm.NewClient(newClient(t, live[0], kgo.SeedBrokers(live...)))
	prod2 := newClient(t, live[0], kgo.SeedBrokers(live...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	prod = prod2
	produce(half, 2*half)

	moved := groupCoordinatorNode(t, adm2, group)
	for moved == coordinator {
		time.Sleep(100 * time.Millisecond)
		moved = groupCoordinatorNode(t, adm2, group)
	}
	t.Logf("the group moved to broker %d", moved)

	ends := map[int32]int64{}
	for deadline := time.Now().Add(30 * time.Second); ; {
		lo, err := adm2.ListEndOffsets(testCtx(t, 10*time.Second), topic)
		if err == nil && lo.Error() == nil {
			lo.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("end offsets: %v", errors.Join(err, lo.Error()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != 2*half {
		t.Fatalf("end offsets %v hold %d records, want %d", ends, total, 2*half)
	}
	// Every record is read, and the group's commits reach the ends on the
	// new coordinator.
	for deadline := time.Now().Add(90 * time.Second); ; {
		miss := seen.missing(ends)
		var committedAll bool
		if len(miss) == 0 {
			fo, err := adm2.FetchOffsets(testCtx(t, 10*time.Second), group)
			if err == nil && fo.Error() == nil {
				committedAll = true
				for p, e := range ends {
					o, ok := fo.Lookup(topic, p)
					if !ok || o.At != e {
						committedAll = false
					}
				}
			}
		}
		if committedAll {
			break
		}
		if time.Now().After(deadline) {
			n := 0
			for _, m := range miss {
				n += len(m)
			}
			t.Fatalf("after the coordinator's kill %d records were never read (first per partition: %v)", n, firstOf(miss))
		}
		time.Sleep(200 * time.Millisecond)
	}
	commitMu.Lock()
	t.Logf("first successful commit came %v after the kill (coordinator failover); %d distinct records read", firstCommitAfterKill.Sub(killed).Round(time.Millisecond), seen.count())
	commitMu.Unlock()
	cancel()
	members.Wait()
}

func firstOf(m map[int32][]int64) map[int32]int64 {
	out := map[int32]int64{}
	for p, os := range m {
		out[p] = os[0]
	}
	return out
}

// TestCoordinatorsSpreadOverBrokers: on a 3-node cluster, FindCoordinator
// (batched, v4+) names different brokers for different groups and
// transactional ids; a group request sent to another broker is answered
// NOT_COORDINATOR (it used to close the connection), and the coordinator
// itself serves it.
func TestCoordinatorsSpreadOverBrokers(t *testing.T) {
	args := clusterArgs(t, 3)
	procs, _ := startClusterNodes(t, args, nil)
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	cl := newClient(t, seeds[0], kgo.SeedBrokers(seeds...))
	adm := kadm.NewClient(cl)
	var groups []string
	for i := range 30 {
		groups = append(groups, fmt.Sprintf("spread-%d", i))
	}
	byNode := map[int32][]string{}
	for deadline := time.Now().Add(30 * time.Second); ; {
		byNode = map[int32][]string{}
		resp := adm.FindGroupCoordinators(testCtx(t, 10*time.Second), groups...)
		var err error
		for _, g := range groups {
			r := resp[g]
			if r.Err != nil {
				err = errors.Join(err, fmt.Errorf("%s: %w", g, r.Err))
				continue
			}
			byNode[r.NodeID] = append(byNode[r.NodeID], g)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(byNode) != 3 {
		t.Fatalf("30 groups are coordinated by %d brokers, want all 3: %v", len(byNode), byNode)
	}
	txnNodes := map[int32]bool{}
	for deadline := time.Now().Add(30 * time.Second); ; {
		txnNodes = map[int32]bool{}
		var err error
		for _, r := range adm.FindTxnCoordinators(testCtx(t, 10*time.Second), groups...) {
			err = errors.Join(err, r.Err)
			txnNodes[r.NodeID] = true
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator(transaction): %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(txnNodes) != 3 {
		t.Fatalf("30 transactional ids are coordinated by %d brokers, want 3", len(txnNodes))
	}

	// Offsets committed for every group (kadm sends each to its
	// coordinator) make groups on all three brokers; ListGroups, which
	// kadm sends to every broker, finds them all.
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 1)
	commit := kadm.Offsets{}
	commit.AddOffset(topic, 0, 0, -1)
	for _, g := range groups {
		// A coordinator that has not applied the new topic yet answers
		// UNKNOWN_TOPIC_OR_PARTITION, which clients retry.
		for deadline := time.Now().Add(30 * time.Second); ; {
			resp, err := adm.CommitOffsets(testCtx(t, 15*time.Second), g, commit)
			if err == nil {
				err = resp.Error()
			}
			if err == nil {
				break
			}
			if !errors.Is(err, kerr.UnknownTopicOrPartition) || time.Now().After(deadline) {
				t.Fatalf("commit for %s: %v", g, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	listed, err := adm.ListGroups(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	for _, g := range groups {
		if _, ok := listed[g]; !ok {
			t.Fatalf("ListGroups over three brokers lacks %s: %v", g, listed.Groups())
		}
	}

	// OffsetFetch of a group on its coordinator works; on another broker
	// it is NOT_COORDINATOR.
	for _, gs := range byNode {
		g := gs[0]
		// Ask again: leadership of the group's partition may have moved
		// since (preferred-leader balancing).
		found := adm.FindGroupCoordinators(testCtx(t, 10*time.Second), g)[g]
		if found.Err != nil {
			t.Fatalf("FindCoordinator(%s): %v", g, found.Err)
		}
		node := found.NodeID
		for other := int32(1); other <= 3; other++ {
			// kgo sends the newest version both sides know: v8, the
			// batched form.
			req := kmsg.NewPtrOffsetFetchRequest()
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			req.Groups = append(req.Groups, rg)
			resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl.Broker(int(other)))
			if err != nil {
				t.Fatalf("OffsetFetch of %s to broker %d: %v", g, other, err)
			}
			if len(resp.Groups) != 1 {
				t.Fatalf("OffsetFetch of %s to broker %d: %d groups in the answer", g, other, len(resp.Groups))
			}
			want := int16(0)
			if other != node {
				want = kerr.NotCoordinator.Code
			}
			if code := resp.Groups[0].ErrorCode; code != want {
				t.Fatalf("OffsetFetch of %s (coordinator %d) to broker %d: error %v, want %v", g, node, other, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
			}
		}
	}
}
