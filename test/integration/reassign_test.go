package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/broker"
)

// createTopicRF creates a one-partition topic with rf replicas and waits
// until its leader answers for it.
func createTopicRF(t *testing.T, adm *kadm.Client, topic string, rf int16) kadm.PartitionDetail {
	t.Helper()
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), 1, rf, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s with replication factor %d: %v / %v (%s)", topic, rf, err, resp.Err, resp.ErrMessage)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(testCtx(t, 10*time.Second), topic)
		if err == nil && ends.Error() == nil && len(ends[topic]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader of %s never answered for it: %v / %v", topic, err, ends.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0]
}

// loadProducer produces numbered records with acks=all until stopped and
// remembers which were acknowledged.
type loadProducer struct {
	cl     *kgo.Client
	stopCh chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	acked  []string
	failed []error
}

// startLoad starts producing to topic through addr, a record every pace
// (0: as fast as the producer goes).
func startLoad(t *testing.T, addr, topic string, pace time.Duration) *loadProducer {
	lp := &loadProducer{
		cl:     newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(2000)),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(lp.done)
		for i := 0; ; i++ {
			select {
			case <-lp.stopCh:
				lp.cl.Flush(context.Background())
				return
			default:
			}
			if pace > 0 {
				time.Sleep(pace)
			}
			v := fmt.Sprintf("r%07d-%s", i, bytes.Repeat([]byte{'x'}, 200))
			lp.cl.Produce(context.Background(), &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				lp.mu.Lock()
				defer lp.mu.Unlock()
				if err != nil {
					lp.failed = append(lp.failed, err)
					return
				}
				lp.acked = append(lp.acked, string(r.Value))
			})
		}
	}()
	return lp
}

// waitAcked waits until at least n records were acknowledged.
func (lp *loadProducer) waitAcked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		lp.mu.Lock()
		got, failed := len(lp.acked), len(lp.failed)
		lp.mu.Unlock()
		if failed > 0 {
			lp.stop()
			t.Fatalf("produce failed: %v", lp.failed[0])
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records acknowledged", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (lp *loadProducer) stop() ([]string, []error) {
	select {
	case <-lp.stopCh:
	default:
		close(lp.stopCh)
	}
	<-lp.done
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.acked, lp.failed
}

// waitReassigned waits until no move of topic-0 runs and its replicas are
// target, in order.
func waitReassigned(t *testing.T, adm *kadm.Client, topic string, target []int32, within time.Duration) kadm.PartitionDetail {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		moving, err := adm.ListPartitionReassignments(testCtx(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
		md, mdErr := adm.Metadata(testCtx(t, 10*time.Second), topic)
		if err == nil && mdErr == nil && len(moving[topic]) == 0 {
			if p, ok := md.Topics[topic].Partitions[0]; ok && slices.Equal(p.Replicas, target) && p.Leader >= 0 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s-0 did not move to %v within %v: moving %v (%v), metadata %+v (%v)", topic, target, within, moving, err, md.Topics[topic].Partitions[0], mdErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSameSize waits until brokers hold topic-0 logs of the same size
// (followers fetched everything), as DescribeLogDirs reports them.
func waitSameSize(t *testing.T, adm *kadm.Client, topic string, brokers []int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dirs, err := adm.DescribeAllLogDirs(testCtx(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
		sizes := map[int32]int64{}
		if err == nil {
			for _, b := range brokers {
				if p, ok := dirs[b].LookupPartition(topic, 0); ok {
					sizes[b] = p.Size
				}
			}
		}
		same := len(sizes) == len(brokers)
		for _, b := range brokers {
			same = same && sizes[b] == sizes[brokers[0]] && sizes[b] > 0
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas of %s-0 on %v never reached the same size: %v (%v)", topic, brokers, sizes, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkAllAcked reads topic-0 from the start and fails unless every
// acknowledged value is there.
func checkAllAcked(t *testing.T, adm *kadm.Client, addr, topic string, acked []string) {
	t.Helper()
	end := endOffsets(t, adm, topic)[0]
	got := consumeValues(t, addr, topic, int(end))
	have := make(map[string]bool, len(got))
	for _, v := range got {
		if have[v] {
			t.Fatalf("record %.8s read twice", v)
		}
		have[v] = true
	}
	for _, v := range acked {
		if !have[v] {
			t.Fatalf("acknowledged record %.8s is lost (%d records read, %d acknowledged)", v, len(got), len(acked))
		}
	}
}

func otherBroker(replicas []int32, n int32) int32 {
	for b := int32(1); b <= n; b++ {
		if !slices.Contains(replicas, b) {
			return b
		}
	}
	return -1
}

// A partition moves to a broker that held none of it, under acks=all
// produce load, and away from its leader: the new replica catches up, the
// move completes (leadership moves to an in-sync target replica), the old
// replica's log is deleted, no acknowledged record is lost, and the new
// replica's log is byte-identical to the other target replica's.
func TestReassignMovesAPartitionUnderLoad(t *testing.T) {
	procs, _ := startClusterWith(t, 3, "--replica-lag-time-max", "5s")
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	p0 := createTopicRF(t, adm, topic, 2)
	from, keep := p0.Replicas[0], p0.Replicas[1]
	to := otherBroker(p0.Replicas, 3)
	target := []int32{to, keep}

	lp := startLoad(t, procs[0].addr, topic, 0)
	lp.waitAcked(t, 3000)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, target)
	resp, err := adm.AlterPartitionAssignments(testCtx(t, 15*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp[topic][0]; r.Err != nil {
		t.Fatalf("reassign %s-0 to %v: %v (%s)", topic, target, r.Err, r.ErrMessage)
	}
	moved := waitReassigned(t, adm, topic, target, 60*time.Second)
	if !slices.Contains(target, moved.Leader) {
		t.Fatalf("leader %d is not a target replica %v", moved.Leader, target)
	}
	lp.waitAcked(t, len(lp.acked)+2000)
	acked, failed := lp.stop()
	if len(failed) > 0 {
		t.Fatalf("%d records failed to produce, first: %v", len(failed), failed[0])
	}
	checkAllAcked(t, adm, procs[0].addr, topic, acked)
	waitSameSize(t, adm, topic, target)

	gone := filepath.Join(procs[from-1].dataDir, topic+"-0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(gone); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %d still holds %s after the move", from, gone)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range procs {
		p.stop()
	}
	a, b := partitionBytes(t, procs[to-1].dataDir, topic, 0), partitionBytes(t, procs[keep-1].dataDir, topic, 0)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("the new replica on %d (%d bytes) differs from the replica on %d (%d bytes)", to, len(a), keep, len(b))
	}
}

// produceBytes writes about n bytes of incompressible records of 10 KiB
// to topic-0 with acks=all, and returns the values written.
func produceBytes(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var rs []*kgo.Record
	var vals []string
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i*10240 < n; i++ {
		filler := make([]byte, 10230)
		for j := range filler {
			filler[j] = byte('a' + rnd.IntN(26))
		}
		v := fmt.Sprintf("r%07d-%s", i, filler)
		vals = append(vals, v)
		rs = append(rs, &kgo.Record{Value: []byte(v)})
	}
	if err := cl.ProduceSync(testCtx(t, 60*time.Second), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return vals
}

func reassign(t *testing.T, adm *kadm.Client, topic string, target []int32) {
	t.Helper()
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, target)
	resp, err := adm.AlterPartitionAssignments(testCtx(t, 15*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp[topic][0]; r.Err != nil {
		t.Fatalf("reassign %s-0 to %v: %v (%s)", topic, target, r.Err, r.ErrMessage)
	}
}

// --replication-throttle limits how fast a new replica copies the
// partition: the copy of 6 MiB at 1 MiB/s takes at least the time the
// rate allows (less one second of burst and one fetch of overdraw). The
// measured rate is logged; the test asserts only that lower bound, which
// a slow machine cannot break. (Without the throttle the copy took 0.2 s
// and this test failed.)
func TestReassignReplicationThrottle(t *testing.T) {
	const rate = 1 << 20
	procs, _ := startClusterWith(t, 2, "--replication-throttle", fmt.Sprint(rate))
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	p0 := createTopicRF(t, adm, topic, 1)
	from := p0.Replicas[0]
	to := otherBroker(p0.Replicas, 2)
	vals := produceBytes(t, procs[0].addr, topic, 6<<20)

	start := time.Now()
	reassign(t, adm, topic, []int32{to, from})
	// The CLI shows the move and its progress while the throttle slows it:
	// some new bytes, not all yet.
	row := regexp.MustCompile(`(?m)^` + topic + `\s+0\s+\[` + fmt.Sprint(to) + ` ` + fmt.Sprint(from) + `\]\s+\[` + fmt.Sprint(to) +
		`\]\s+\[\]\s+` + fmt.Sprint(from) + `\s+` + fmt.Sprint(to) + `: [1-9]\d*/\d+ B \(\d+%\)$`)
	for {
		status, err := exec.Command(ferryBinary(t), "cluster", "reassign", "--status", "--brokers", procs[0].addr).CombinedOutput()
		if err != nil {
			t.Fatalf("ferry cluster reassign --status: %v\n%s", err, status)
		}
		if row.Match(status) {
			t.Logf("ferry cluster reassign --status:\n%s", status)
			break
		}
		if strings.Contains(string(status), "no reassignment in progress") {
			t.Fatalf("the move ended before --status showed any progress")
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitReassigned(t, adm, topic, []int32{to, from}, 120*time.Second)
	took := time.Since(start)
	size := partitionSize(t, adm, topic, to)
	t.Logf("copied %d bytes in %v: %.0f bytes/s with --replication-throttle %d", size, took.Round(time.Millisecond), float64(size)/took.Seconds(), rate)
	if floor := time.Duration(float64(size-2*rate-(1<<20)) / rate * float64(time.Second)); took < floor {
		t.Fatalf("copied %d bytes in %v: faster than the throttle allows (at least %v)", size, took, floor)
	}
	checkAllAcked(t, adm, procs[0].addr, topic, vals)
}

// partitionSize is topic-0's log size on broker.
func partitionSize(t *testing.T, adm *kadm.Client, topic string, broker int32) int64 {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(testCtx(t, 10*time.Second), broker, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := dirs.LookupPartition(topic, 0)
	if !ok {
		t.Fatalf("broker %d holds no %s-0", broker, topic)
	}
	return p.Size
}

// A move survives a SIGKILL of the active controller in its middle (the
// copy is slowed by the throttle so the kill lands while it runs), under
// acks=all produce load: the move is in the Raft log, the new controller
// and the partition leader carry it on, it completes, no acknowledged
// record is lost and the replicas are byte-identical.
func TestReassignSurvivesControllerKillMidMove(t *testing.T) {
	procs, args := startClusterWith(t, 3, "--replication-throttle", fmt.Sprint(1<<20))
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	p0 := createTopicRF(t, adm, topic, 2)
	keep := p0.Replicas[1]
	to := otherBroker(p0.Replicas, 3)
	target := []int32{to, keep}
	vals := produceBytes(t, procs[0].addr, topic, 8<<20)
	// Paced below the throttle: a new replica copying at 1 MiB/s could
	// never catch up with a producer writing faster.
	lp := startLoad(t, procs[keep-1].addr, topic, time.Millisecond)
	lp.waitAcked(t, 500)

	reassign(t, adm, topic, target)
	moving, err := adm.ListPartitionReassignments(testCtx(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
	if err != nil || len(moving[topic]) != 1 {
		t.Fatalf("the move is not listed while it runs: %v %v", moving, err)
	}
	if m := moving[topic][0]; !slices.Equal(m.AddingReplicas, []int32{to}) || !slices.Equal(m.RemovingReplicas, []int32{p0.Replicas[0]}) {
		t.Fatalf("listed move: %+v", m)
	}
	md, err := adm.Metadata(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctrl := md.Controller
	t.Logf("killing the active controller, node %d, mid-move (replicas %v -> %v)", ctrl, p0.Replicas, target)
	procs[ctrl-1].kill()
	restarted, err := tryStartFerry(t, procs[ctrl-1].dataDir, args[ctrl-1]...)
	if err != nil {
		t.Fatal(err)
	}
	procs[ctrl-1] = restarted
	alive := procs[0]
	if ctrl == 1 {
		alive = procs[1]
	}
	adm = newAdmin(t, alive.addr)
	waitReassigned(t, adm, topic, target, 120*time.Second)
	acked, failed := lp.stop()
	if len(failed) > 0 {
		t.Fatalf("%d records failed to produce, first: %v", len(failed), failed[0])
	}
	checkAllAcked(t, adm, alive.addr, topic, append(vals, acked...))
	waitSameSize(t, adm, topic, target)
	for _, p := range procs {
		p.stop()
	}
	a, b := partitionBytes(t, procs[to-1].dataDir, topic, 0), partitionBytes(t, procs[keep-1].dataDir, topic, 0)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("the new replica on %d (%d bytes) differs from the replica on %d (%d bytes)", to, len(a), keep, len(b))
	}
}

// preferredLeaderAfterFailover kills the preferred leader of a fresh
// three-replica topic, restarts it and waits until it is back in the ISR,
// led by another broker; it returns the topic and the preferred replica.
func preferredLeaderAfterFailover(t *testing.T, procs []*ferryProc, args [][]string) (string, int32) {
	t.Helper()
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createReplicatedTopic(t, adm, topic, 1)
	preferred := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0].Replicas[0]
	procs[preferred-1].kill()
	other := procs[preferred%3]
	adm = newAdmin(t, other.addr)
	waitISR(t, adm, topic, func(isr []int32) bool { return !slices.Contains(isr, preferred) })
	restarted, err := tryStartFerry(t, procs[preferred-1].dataDir, args[preferred-1]...)
	if err != nil {
		t.Fatal(err)
	}
	procs[preferred-1] = restarted
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	return topic, preferred
}

func waitLeader(t *testing.T, adm *kadm.Client, topic string, want int32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		md, err := adm.Metadata(testCtx(t, 10*time.Second), topic)
		if err == nil && md.Topics[topic].Partitions[0].Leader == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader of %s-0 is not %d after %v: %+v (%v)", topic, want, within, md.Topics[topic].Partitions[0], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// After a failover the preferred replica is back in sync but does not
// lead (automatic balancing is off here); ElectLeaders (PREFERRED, through
// kadm) gives it leadership back, and a second election is not needed.
func TestElectPreferredLeaderAfterFailover(t *testing.T) {
	procs, args := startClusterWith(t, 3, "--auto-leader-rebalance=false")
	topic, preferred := preferredLeaderAfterFailover(t, procs, args)
	adm := newAdmin(t, procs[preferred%3].addr)
	if l := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0].Leader; l == preferred {
		t.Fatalf("preferred replica %d leads again without an election", preferred)
	}
	res, err := adm.ElectLeaders(testCtx(t, 15*time.Second), kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	if err != nil || res[topic][0].Err != nil {
		t.Fatalf("elect preferred: %v %+v", err, res)
	}
	waitLeader(t, adm, topic, preferred, 30*time.Second)
	res, err = adm.ElectLeaders(testCtx(t, 15*time.Second), kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	if err != nil || !errors.Is(res[topic][0].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("second election: %v %+v, want ELECTION_NOT_NEEDED", err, res)
	}
	// The CLI finds nothing left to do for the topic.
	out, err := exec.Command(ferryBinary(t), "cluster", "elect-leaders", "--topic", topic, "--brokers", procs[0].addr).CombinedOutput()
	if err != nil || string(out) != "0 elected, 1 not needed, 0 failed\n" {
		t.Fatalf("ferry cluster elect-leaders --topic %s: %v\n%s", topic, err, out)
	}
}

// With automatic balancing on (a short check interval here), leadership
// returns to the preferred replica by itself once it is back in sync. The
// imbalance share is 0: with the default 10%, the test's one partition
// among the ~33 internal ones the broker prefers may stay below it once
// those moved back (it failed so, 1 run in 8).
func TestAutoLeaderRebalanceAfterFailover(t *testing.T) {
	procs, args := startClusterWith(t, 3, "--leader-imbalance-check-interval", "1s", "--leader-imbalance-per-broker-percentage", "0")
	topic, preferred := preferredLeaderAfterFailover(t, procs, args)
	defer func() {
		if t.Failed() { // what the controllers said about leadership
			for _, p := range procs {
				for _, l := range strings.Split(p.log(), "\n") {
					if strings.Contains(l, "preferred") || strings.Contains(l, "controller") {
						t.Log(l)
					}
				}
			}
		}
	}()
	waitLeader(t, newAdmin(t, procs[preferred%3].addr), topic, preferred, 60*time.Second)
}

// A partition whose head retention removed (log start > 0) moves to a
// broker that held none of it: the new replica starts its log at the
// leader's log start, copies the rest, and the move completes. Before,
// the new replica asked for offset 0 forever and the move never ended.
func TestReassignAfterRetentionMovedTheLogStart(t *testing.T) {
	procs, _ := startClusterWith(t, 2)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), 1, 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("20000"), "retention.bytes": kadm.StringPtr("60000")}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	from := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0].Replicas[0]
	to := otherBroker([]int32{from}, 2)
	for range 10 { // one batch, and so one segment, each
		produceBytes(t, procs[0].addr, topic, 30<<10)
	}
	var start int64
	deadline := time.Now().Add(60 * time.Second)
	for start == 0 {
		if start = startOffsets(t, adm, topic)[0]; start == 0 && time.Now().After(deadline) {
			t.Fatal("retention never removed the head of the log")
		}
		time.Sleep(200 * time.Millisecond)
	}
	end := endOffsets(t, adm, topic)[0]

	reassign(t, adm, topic, []int32{to})
	waitReassigned(t, adm, topic, []int32{to}, 60*time.Second)
	if got := startOffsets(t, adm, topic)[0]; got < start {
		t.Fatalf("log start on the new replica %d, below the old leader's %d", got, start)
	}
	recs := consumeN(t, procs[to-1].addr, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, topic, int(end-startOffsets(t, adm, topic)[0]))
	if last := recs[len(recs)-1].Offset; last != end-1 {
		t.Fatalf("last record read at %d, want %d", last, end-1)
	}
}

// A running move is cancelled through the CLI: the partition goes back to
// its original replicas and the replica the move had added deletes its log.
func TestReassignCancel(t *testing.T) {
	procs, _ := startClusterWith(t, 2, "--replication-throttle", fmt.Sprint(256<<10))
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	p0 := createTopicRF(t, adm, topic, 1)
	from := p0.Replicas[0]
	to := otherBroker(p0.Replicas, 2)
	vals := produceBytes(t, procs[0].addr, topic, 4<<20)
	reassign(t, adm, topic, []int32{to})
	dir := filepath.Join(procs[to-1].dataDir, topic+"-0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(dir); err == nil {
			break // the new replica opened
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %d never opened its new replica", to)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := exec.Command(ferryBinary(t), "cluster", "reassign", "--cancel", "--brokers", procs[0].addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), topic+"-0: move cancelled") {
		t.Fatalf("ferry cluster reassign --cancel: %v\n%s", err, out)
	}
	waitReassigned(t, adm, topic, []int32{from}, 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %d still holds %s after the cancel", to, dir)
		}
	}
	checkAllAcked(t, adm, procs[0].addr, topic, vals)
}

// The __consumer_offsets partition holding a group moves off its leader:
// the group's coordinator moves with the leadership (the old broker
// unloads it before deleting the log, the new leader loads it from its
// replica), and the group's committed offsets are all there.
func TestReassignMovesAGroupCoordinator(t *testing.T) {
	procs, _ := startClusterWith(t, 3)
	adm := newAdmin(t, procs[0].addr)
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 1)
	group := "g-" + topic
	commit := func(at int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			offs := kadm.Offsets{}
			offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
			resp, err := adm.CommitOffsets(testCtx(t, 10*time.Second), group, offs)
			if err == nil && resp.Error() == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit %d: %v %v", at, err, resp.Error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	fetched := func() int64 {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := adm.FetchOffsets(testCtx(t, 10*time.Second), group)
			if err == nil && resp.Error() == nil {
				if o, ok := resp.Lookup(topic, 0); ok {
					return o.At
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("fetch offsets of %s: %v %v", group, err, resp.Error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	commit(42)

	offsetsMD := waitTopicMetadata(t, adm, "__consumer_offsets").Topics["__consumer_offsets"]
	part := broker.CoordinatorPartition(group, int32(len(offsetsMD.Partitions)))
	pd := offsetsMD.Partitions[part]
	var target []int32
	for _, r := range pd.Replicas {
		if r != pd.Leader {
			target = append(target, r)
		}
	}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("__consumer_offsets", part, target)
	resp, err := adm.AlterPartitionAssignments(testCtx(t, 15*time.Second), req)
	if err != nil || resp["__consumer_offsets"][part].Err != nil {
		t.Fatalf("move __consumer_offsets-%d %v -> %v: %v %+v", part, pd.Replicas, target, err, resp)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := adm.Metadata(testCtx(t, 10*time.Second), "__consumer_offsets")
		if err == nil {
			if p := md.Topics["__consumer_offsets"].Partitions[part]; slices.Equal(p.Replicas, target) && slices.Contains(target, p.Leader) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets-%d did not move to %v", part, target)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := fetched(); got != 42 {
		t.Fatalf("committed offset after the move: %d, want 42", got)
	}
	commit(43)
	if got := fetched(); got != 43 {
		t.Fatalf("offset committed to the new coordinator: %d, want 43", got)
	}
}
