package integration

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionState is what Metadata says about one partition.
type partitionState struct {
	leader, epoch int32
	replicas, isr []int32
	offline       []int32
}

// clusterView polls Metadata of topic through adm until ok accepts it or
// the deadline passes; it returns the brokers listed and the partitions.
func clusterView(t *testing.T, adm *kadm.Client, topic, what string, ok func(brokers []int32, parts map[int32]partitionState) bool) ([]int32, map[int32]partitionState) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		md, err := adm.Metadata(testCtx(t, 5*time.Second), topic)
		if err == nil {
			var brokers []int32
			for _, b := range md.Brokers {
				brokers = append(brokers, b.NodeID)
			}
			slices.Sort(brokers)
			parts := map[int32]partitionState{}
			for _, p := range md.Topics[topic].Partitions {
				parts[p.Partition] = partitionState{p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas}
			}
			if ok(brokers, parts) {
				return brokers, parts
			}
			last = fmt.Sprintf("brokers %v, partitions %+v", brokers, parts)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; last metadata: %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A SIGKILLed broker is fenced by the active controller: Metadata stops
// listing it, each partition it led gets a new leader from its ISR with a
// higher leader epoch, and it leaves every ISR. Restarted on its data dir,
// it is listed again.
func TestClusterFailoverMovesLeadershipFromAKilledBroker(t *testing.T) {
	args := clusterArgs(t, 3)
	procs, _ := startClusterNodes(t, args, nil)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), 6, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s with replication factor 3: %v", topic, err)
	}
	_, before := clusterView(t, adm, topic, "six partitions on three brokers", func(brokers []int32, parts map[int32]partitionState) bool {
		return len(brokers) == 3 && len(parts) == 6
	})
	leaders := map[int32]int{}
	for i, p := range before {
		if len(p.replicas) != 3 || len(p.isr) != 3 || p.replicas[0] != p.leader {
			t.Fatalf("partition %d: %+v; want three replicas, all in the ISR, the first leading", i, p)
		}
		leaders[p.leader]++
	}
	if leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Fatalf("leaders per broker %v, want 2 each", leaders)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		// The broker asked may not have applied the topic yet.
		cfgs, err := adm.DescribeTopicConfigs(testCtx(t, 15*time.Second), topic)
		if err == nil {
			var v kadm.ResourceConfig
			if v, err = cfgs.On(topic, nil); err == nil {
				if err = v.Err; err == nil {
					if hasConfig(v.Configs, "min.insync.replicas", "2") {
						break
					}
					t.Fatalf("topic with replication factor 3: configs %+v, want min.insync.replicas=2", v.Configs)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe configs of %s: %v", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Kill a broker that is not the controller: its partitions fail over
	// within a session (1.5 s by default), without a controller election.
	ctl, err := adm.BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	victim := int32(1)
	if ctl.Controller == victim {
		victim = 2
	}
	var survivor *ferryProc
	for i, p := range procs {
		if int32(i+1) != victim && survivor == nil {
			survivor = p
		}
	}
	killed := time.Now()
	procs[victim-1].kill()
	sadm := newAdmin(t, survivor.addr)
	_, after := clusterView(t, sadm, topic, fmt.Sprintf("broker %d fenced and its partitions moved", victim), func(brokers []int32, parts map[int32]partitionState) bool {
		if slices.Contains(brokers, victim) || len(brokers) != 2 || len(parts) != 6 {
			return false
		}
		for _, p := range parts {
			if p.leader == victim || p.leader == -1 || slices.Contains(p.isr, victim) {
				return false
			}
		}
		return true
	})
	t.Logf("broker %d fenced and its partitions led elsewhere %v after the kill (session timeout 1.5s)", victim, time.Since(killed).Round(10*time.Millisecond))
	for i, p := range after {
		old := before[i]
		if !slices.Contains(p.offline, victim) {
			t.Errorf("partition %d: offline replicas %v do not name the killed broker %d", i, p.offline, victim)
		}
		if old.leader != victim {
			if p.leader != old.leader || p.epoch != old.epoch {
				t.Errorf("partition %d, led by %d: now %+v; want the same leader and epoch", i, old.leader, p)
			}
			continue
		}
		if !slices.Contains(old.isr, p.leader) || p.epoch <= old.epoch {
			t.Errorf("partition %d, led by the killed broker: %+v (was %+v); want a leader from the ISR with a higher epoch", i, p, old)
		}
	}

	restarted := startFerry(t, procs[victim-1].dataDir, args[victim-1]...)
	clusterView(t, sadm, topic, fmt.Sprintf("broker %d listed again", victim), func(brokers []int32, _ map[int32]partitionState) bool {
		return slices.Equal(brokers, []int32{1, 2, 3})
	})
	// It answers Metadata itself, listing all three.
	clusterView(t, newAdmin(t, restarted.addr), topic, "the restarted broker's own metadata", func(brokers []int32, parts map[int32]partitionState) bool {
		return len(brokers) == 3 && len(parts) == 6
	})
}

func hasConfig(cs []kadm.Config, key, value string) bool {
	for _, c := range cs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// A second process with a node id in use is refused at start, and says
// why; the cluster keeps the first.
func TestClusterRefusesADuplicateNodeID(t *testing.T) {
	args := clusterArgs(t, 3)
	procs, _ := startClusterNodes(t, args, nil)
	dup := slices.Clone(args[1])
	for i, a := range dup {
		if a == "--controller-addr" {
			dup[i+1] = freeAddr(t)
		}
	}
	p, err := tryStartFerry(t, t.TempDir(), dup...)
	if err == nil {
		t.Fatalf("a second node 2 started at %s", p.addr)
	}
	if !strings.Contains(err.Error(), "duplicate node id") || !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("second node 2: %v; want an exit naming the duplicate node id", err)
	}
	md, err := newAdmin(t, procs[0].addr).BrokerMetadata(testCtx(t, 15*time.Second))
	if err != nil || len(md.Brokers) != 3 {
		t.Fatalf("brokers after the refused duplicate: %v, %v", md.Brokers, err)
	}
}

// A node whose data dir joined another cluster refuses to join this one.
func TestClusterRefusesADataDirOfAnotherCluster(t *testing.T) {
	a := startCluster(t, 1)
	aDir := a[0].dataDir
	a[0].stop()

	args := clusterArgs(t, 3)
	startClusterNodes(t, args, []int{0, 1}) // a majority of cluster B
	p, err := tryStartFerry(t, aDir, args[2]...)
	if err == nil {
		t.Fatalf("a data dir of another cluster joined, serving at %s", p.addr)
	}
	if !strings.Contains(err.Error(), "belongs to another cluster") {
		t.Fatalf("join with another cluster's data dir: %v", err)
	}
}

// A quorum without a majority refuses metadata changes with NOT_CONTROLLER
// while the surviving broker keeps serving the partitions it leads.
func TestClusterWithoutMajorityKeepsServingButRefusesMetadataChanges(t *testing.T) {
	procs := startCluster(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createTopic(t, adm, topic, 3) // replication factor 1: one partition on each broker
	_, parts := clusterView(t, adm, topic, "three partitions", func(brokers []int32, parts map[int32]partitionState) bool {
		return len(brokers) == 3 && len(parts) == 3
	})
	var mine int32 = -1
	for i, p := range parts {
		if p.leader == 1 {
			mine = i
		}
	}
	if mine < 0 {
		t.Fatalf("node 1 leads no partition: %+v", parts)
	}
	procs[1].kill()
	procs[2].kill()

	sadm := newAdmin(t, procs[0].addr)
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := sadm.CreateTopic(testCtx(t, 30*time.Second), 1, 1, nil, topic+"-nomajority")
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.NotController) {
			break
		}
		if err == nil {
			t.Fatal("a topic was created without a majority of the controller quorum")
		}
		if time.Now().After(deadline) {
			t.Fatalf("create without a majority: %v, want NOT_CONTROLLER", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cl := newClient(t, procs[0].addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	var rs []*kgo.Record
	for i := range 20 {
		rs = append(rs, &kgo.Record{Partition: mine, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	produceSync(t, cl, rs...)
	got := consumeN(t, procs[0].addr, map[int32]kgo.Offset{mine: kgo.NewOffset().AtStart()}, topic, len(rs))
	checkSameRecords(t, rs, got)
}
