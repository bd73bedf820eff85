package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// freeAddr returns a loopback host:port that was free a moment ago, for a
// listener a process binds later (the controller port). It is picked below
// the kernel's ephemeral range, so that the listeners bound to port 0 in
// between (Kafka, HTTP, clients' sockets) can never take it first.
func freeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// ephemeralLow is the first port of the kernel's ephemeral range (where
// binds to port 0 land), 32768 where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
}

// startCluster starts n `ferry serve` processes forming one controller
// quorum. They start together: each waits for a quorum before serving.
// extra flags go to every node.
func startCluster(t *testing.T, n int, extra ...string) []*ferryProc {
	t.Helper()
	args := clusterArgs(t, n)
	for i := range args {
		args[i] = append(args[i], extra...)
	}
	procs, _ := startClusterNodes(t, args, nil)
	return procs
}

// clusterArgs returns the flags of each node of an n-node quorum on
// loopback (node i+1 at index i), data dir aside.
func clusterArgs(t *testing.T, n int) [][]string {
	t.Helper()
	ctrl := make([]string, n)
	quorum := ""
	for i := range n {
		ctrl[i] = freeAddr(t)
		if i > 0 {
			quorum += ","
		}
		quorum += fmt.Sprintf("%d@%s", i+1, ctrl[i])
	}
	args := make([][]string, n)
	for i := range n {
		args[i] = []string{"--node-id", strconv.Itoa(i + 1), "--controller-addr", ctrl[i], "--controller-quorum", quorum,
			"--group-initial-rebalance-delay", "0s"}
	}
	return args
}

// startClusterNodes starts the nodes of args whose index only lists (all
// when only is nil), together, each on a fresh data dir; it returns them
// by index (nil where not started).
func startClusterNodes(t *testing.T, args [][]string, only []int) ([]*ferryProc, []error) {
	t.Helper()
	procs := make([]*ferryProc, len(args))
	errs := make([]error, len(args))
	var wg sync.WaitGroup
	for i := range args {
		if only != nil && !slices.Contains(only, i) {
			continue
		}
		dir := t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = tryStartFerry(t, dir, args[i]...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return procs, errs
}

// A three-node cluster: a topic created through node 1 is spread over all
// three brokers, clients produce through every node and read everything
// back; after a SIGKILL of the controller the two survivors elect another
// (through Raft), metadata changes still commit, and every acknowledged
// record on a surviving broker is still there. Partitions of the killed
// broker are unavailable: replication is not built yet.
func TestClusterThreeNodes(t *testing.T) {
	procs := startCluster(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createTopic(t, adm, topic, 6)

	// Followers apply the topic a heartbeat after the controller, as in
	// Kafka: a broker that has not yet answers UNKNOWN_TOPIC_OR_PARTITION.
	md := waitTopicMetadata(t, adm, topic)
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3: %v", len(md.Brokers), md.Brokers)
	}
	leaderOf := map[int32]int32{}
	perNode := map[int32]int{}
	for _, p := range md.Topics[topic].Partitions {
		leaderOf[p.Partition] = p.Leader
		perNode[p.Leader]++
	}
	if len(leaderOf) != 6 || perNode[1] != 2 || perNode[2] != 2 || perNode[3] != 2 {
		t.Fatalf("partition leaders %v: want 2 partitions on each of nodes 1-3 (%+v)", leaderOf, md.Topics[topic])
	}

	// A broker answers NOT_LEADER_OR_FOLLOWER for a partition another
	// broker leads.
	var other int32 = -1
	for part, leader := range leaderOf {
		if leader != 1 {
			other = part
			break
		}
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = other, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	node1 := newClient(t, procs[0].addr).Broker(1)
	var raw *kmsg.ListOffsetsResponse
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		// Node 1 may not have applied the topic yet (CreateTopics went
		// to the controller): UNKNOWN_TOPIC_OR_PARTITION until it has.
		if raw, err = req.RequestWith(testCtx(t, 15*time.Second), node1); err != nil {
			t.Fatal(err)
		}
		if raw.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := raw.Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("ListOffsets of partition %d (led by %d) at node 1: error %d, want NOT_LEADER_OR_FOLLOWER", other, leaderOf[other], code)
	}

	// A replication factor above the live brokers is refused.
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), 1, 4, nil, topic+"-rf4")
	if !errors.Is(err, kerr.InvalidReplicationFactor) && !errors.Is(resp.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("create with replication factor 4 on 3 brokers: %v / %v, want INVALID_REPLICATION_FACTOR", err, resp.Err)
	}

	// Keyed records through each node; the client routes them by
	// Metadata to each partition's leader.
	const perClient = 60
	var acked []*kgo.Record
	for i, p := range procs {
		cl := newClient(t, p.addr, kgo.DefaultProduceTopic(topic))
		var rs []*kgo.Record
		for j := range perClient {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d-%d", i, j)), Value: []byte(fmt.Sprintf("v%d-%d", i, j))})
		}
		produceSync(t, cl, rs...)
		acked = append(acked, rs...)
	}
	got := consumeN(t, procs[1].addr, allFrom(6, kgo.NewOffset().AtStart()), topic, len(acked))
	checkSameRecords(t, acked, got)

	// A consumer group through node 3: FindCoordinator names the broker
	// running the group coordinator, wherever that is.
	gcl := newClient(t, procs[2].addr, kgo.ConsumerGroup(topic+"-g"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	var grouped []*kgo.Record
	for deadline := time.Now().Add(30 * time.Second); len(grouped) < len(acked); {
		if time.Now().After(deadline) {
			t.Fatalf("group consumer read %d of %d records", len(grouped), len(acked))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := gcl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("group fetch %s/%d: %v", tp, p, err)
			}
		})
		grouped = append(grouped, fs.Records()...)
	}
	checkSameRecords(t, acked, grouped)
	if err := gcl.CommitUncommittedOffsets(testCtx(t, 15*time.Second)); err != nil {
		t.Fatalf("commit through the group coordinator: %v", err)
	}
	gcl.Close()

	ctl, err := adm.BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	old := ctl.Controller
	if old < 1 || old > 3 {
		t.Fatalf("controller = %d", old)
	}
	procs[old-1].kill()
	var survivors []*ferryProc
	for i, p := range procs {
		if int32(i+1) != old {
			survivors = append(survivors, p)
		}
	}

	// The survivors elect a new controller; a metadata change commits
	// through it (NOT_CONTROLLER until then: clients retry).
	sadm := newAdmin(t, survivors[1].addr)
	after := topic + "-after"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := sadm.CreateTopic(testCtx(t, 15*time.Second), 2, 1, nil, after)
		if err == nil && resp.Err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s after the controller died: %v / %v", after, err, resp.Err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	smd, err := sadm.BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if smd.Controller == old || smd.Controller < 1 {
		t.Fatalf("controller after the kill = %d (killed %d)", smd.Controller, old)
	}
	for _, p := range survivors {
		waitTopicMetadata(t, newAdmin(t, p.addr), after)
	}

	// Every acknowledged record of a partition on a surviving broker.
	var want []*kgo.Record
	live := map[int32]kgo.Offset{}
	for _, r := range acked {
		if leaderOf[r.Partition] != old {
			want = append(want, r)
			live[r.Partition] = kgo.NewOffset().AtStart()
		}
	}
	got = consumeN(t, survivors[0].addr, live, topic, len(want))
	checkSameRecords(t, want, got)
}

// checkSameRecords fails unless got holds exactly want's key/value pairs.
func checkSameRecords(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	seen := map[string]string{}
	for _, r := range got {
		seen[string(r.Key)] = string(r.Value)
	}
	if len(seen) != len(want) {
		t.Fatalf("read %d distinct keys, want %d", len(seen), len(want))
	}
	for _, r := range want {
		if v, ok := seen[string(r.Key)]; !ok || v != string(r.Value) {
			t.Fatalf("record %s: read %q, want %q", r.Key, v, r.Value)
		}
	}
}

// waitTopicMetadata returns Metadata once the broker adm asks knows topic.
func waitTopicMetadata(t *testing.T, adm *kadm.Client, topic string) kadm.Metadata {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := adm.Metadata(testCtx(t, 15*time.Second), topic)
		if err == nil && md.Topics[topic].Err == nil {
			return md
		}
		if time.Now().After(deadline) {
			t.Fatalf("metadata of %s: %v %v", topic, err, md.Topics[topic].Err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startClusterWith starts an n-node cluster with extra flags for every
// node; it also returns each node's arguments, to restart it on its data
// dir.
func startClusterWith(t *testing.T, n int, extra ...string) ([]*ferryProc, [][]string) {
	t.Helper()
	args := clusterArgs(t, n)
	for i := range args {
		args[i] = append(args[i], extra...)
	}
	procs, _ := startClusterNodes(t, args, nil)
	return procs, args
}
