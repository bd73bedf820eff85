package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Short leases for tests, still generous for a loaded machine under -race.
const (
	testHeartbeat = 100 * time.Millisecond
	testSession   = 2 * time.Second
)

// startRegisteredQuorum starts n members with short leases and registers
// each one's broker at "broker-<n>:9092".
func startRegisteredQuorum(t *testing.T, n int) ([]*Store, []Config) {
	t.Helper()
	var q []Voter
	for i := 1; i <= n; i++ {
		q = append(q, Voter{NodeID: int32(i), Addr: freeAddr(t)})
	}
	var stores []*Store
	var cfgs []Config
	for i := 1; i <= n; i++ {
		cfg := Config{NodeID: int32(i), DataDir: t.TempDir(), Quorum: q, ProposeTimeout: 20 * time.Second, Raft: fastRaft,
			HeartbeatInterval: testHeartbeat, SessionTimeout: testSession}
		s, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
		cfgs = append(cfgs, cfg)
	}
	for i, s := range stores {
		if err := s.Register(brokerAddr(int32(i+1)), 30*time.Second); err != nil {
			t.Fatalf("register node %d: %v", i+1, err)
		}
	}
	return stores, cfgs
}

func brokerAddr(n int32) string { return fmt.Sprintf("broker-%d:9092", n) }

// waitImage waits until s's image satisfies ok, for up to 30 s.
func waitImage(t *testing.T, s *Store, what string, ok func(*meta.Image) bool) *meta.Image {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		ch := s.Changed()
		if img := s.Image(); ok(img) {
			return img
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestHeartbeatsRegisterBrokers(t *testing.T) {
	stores, _ := startRegisteredQuorum(t, 3)
	for _, s := range stores {
		img := waitImage(t, s, "three live brokers", func(img *meta.Image) bool { return len(img.LiveBrokers()) == 3 })
		for _, b := range img.Brokers() {
			if b.Addr != brokerAddr(b.NodeID) || b.Incarnation == "" {
				t.Fatalf("broker %+v", b)
			}
		}
	}
	// Live brokers stay live: heartbeats keep renewing their leases.
	time.Sleep(3 * testSession)
	if live := stores[0].Image().LiveBrokers(); len(live) != 3 {
		t.Fatalf("after three sessions %d brokers are live: %+v", len(live), stores[0].Image().Brokers())
	}
}

// A stopped broker is fenced after its session: its partitions get the
// next ISR replica as leader with higher epochs, it leaves the ISRs, and a
// partition whose only replica it is goes offline. Restarted, it is
// registered again (a new incarnation) and leads its offline partition.
func TestDeadBrokerIsFencedAndItsPartitionsMove(t *testing.T) {
	stores, cfgs := startRegisteredQuorum(t, 3)
	ctl := stores[0].Controller()
	victim := int32(1)
	if ctl == victim {
		victim = 2
	}
	others := []int32{}
	for n := int32(1); n <= 3; n++ {
		if n != victim {
			others = append(others, n)
		}
	}
	_, err := stores[0].Update(func(img *meta.Image) ([]meta.Record, error) {
		return []meta.Record{{Topic: &meta.TopicRecord{Name: "t", Partitions: 3, Placement: []meta.Placement{
			{Replicas: []int32{victim, others[1], others[0]}, Leader: victim, LeaderEpoch: 3, ISR: []int32{victim, others[0], others[1]}, PartitionEpoch: 5},
			{Replicas: []int32{others[0], victim}, Leader: others[0], ISR: []int32{others[0], victim}},
			meta.LocalPlacement(victim),
		}}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	old := stores[victim-1].Image()
	oldBroker, _ := old.Broker(victim)
	if err := stores[victim-1].Close(); err != nil {
		t.Fatal(err)
	}
	observer := stores[others[0]-1]
	img := waitImage(t, observer, "the victim fenced", func(img *meta.Image) bool { return !img.Live(victim) })
	top, _ := img.Topic("t")
	p0, p1, p2 := top.Placement[0], top.Placement[1], top.Placement[2]
	if p0.Leader != others[1] || p0.LeaderEpoch != 4 || p0.PartitionEpoch != 6 || slices.Contains(p0.ISR, victim) {
		t.Fatalf("partition 0 led by the victim: %+v; want leader %d (next replica in the ISR), epoch 4", p0, others[1])
	}
	if p1.Leader != others[0] || p1.LeaderEpoch != 0 || p1.PartitionEpoch != 1 || !slices.Equal(p1.ISR, []int32{others[0]}) {
		t.Fatalf("partition 1 followed by the victim: %+v", p1)
	}
	if p2.Leader != -1 || !slices.Equal(p2.ISR, []int32{victim}) || p2.LeaderEpoch != 1 {
		t.Fatalf("partition 2 on the victim alone: %+v; want offline with the victim left in the ISR", p2)
	}

	s, err := Open(cfgs[victim-1], nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer s.Close()
	if err := s.Register(brokerAddr(victim), 30*time.Second); err != nil {
		t.Fatalf("register after restart: %v", err)
	}
	img = waitImage(t, observer, "the victim back", func(img *meta.Image) bool { return img.Live(victim) })
	b, _ := img.Broker(victim)
	if b.Incarnation == oldBroker.Incarnation {
		t.Fatal("restarted broker kept its incarnation")
	}
	top, _ = img.Topic("t")
	if p := top.Placement[2]; p.Leader != victim || p.LeaderEpoch != 2 {
		t.Fatalf("offline partition after its last ISR member returned: %+v", p)
	}
	if p := top.Placement[0]; p.Leader != others[1] {
		t.Fatalf("partition 0 changed leader again: %+v", p)
	}
}

// A second process with a node id in use is refused before its Raft
// member starts, once the first one's lease has had time to run out. The
// id taken is the controller's: before the fix the probe skipped the voter
// with the prober's own id, which was the only one that could tell.
func TestDuplicateNodeIDIsRefused(t *testing.T) {
	stores, cfgs := startRegisteredQuorum(t, 3)
	waitImage(t, stores[0], "three live brokers", func(img *meta.Image) bool { return len(img.LiveBrokers()) == 3 })
	ctl := stores[0].Controller()
	dup := cfgs[ctl-1]
	dup.DataDir = t.TempDir()
	dup.ListenAddr = freeAddr(t)
	s, err := Open(dup, nil)
	if err == nil {
		s.Close()
		t.Fatalf("a second process with node id %d started", ctl)
	}
	if !errors.Is(err, ErrDuplicateNodeID) {
		t.Fatalf("second node %d: %v, want ErrDuplicateNodeID", ctl, err)
	}
	if !stores[0].Image().Live(ctl) {
		t.Fatalf("the first node %d was fenced", ctl)
	}
}

// A data dir that joined one cluster refuses to join another.
func TestDataDirOfAnotherClusterIsRefused(t *testing.T) {
	// Cluster A, one node: the data dir records A's id.
	a, aCfgs := startQuorum(t, 1)
	if _, err := a[0].Update(func(*meta.Image) ([]meta.Record, error) {
		return []meta.Record{{Cluster: &meta.ClusterRecord{ClusterID: "cluster-a"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := a[0].SaveClusterID("cluster-a"); err != nil {
		t.Fatal(err)
	}
	if err := a[0].SaveClusterID("cluster-a"); err != nil {
		t.Fatalf("saving the same id again: %v", err)
	}
	a[0].Close()

	// Cluster B: two of its three voters run.
	b, bCfgs := startQuorum(t, 3)
	b[2].Close()
	if _, err := b[0].Update(func(*meta.Image) ([]meta.Record, error) {
		return []meta.Record{{Cluster: &meta.ClusterRecord{ClusterID: "cluster-b"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	intruder := bCfgs[2]
	intruder.DataDir = aCfgs[0].DataDir
	s, err := Open(intruder, nil)
	if err == nil {
		s.Close()
		t.Fatal("a data dir of cluster A joined cluster B")
	}
	if !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("join: %v, want ErrOtherCluster", err)
	}
	// The id check after registration refuses it too (when no voter
	// answered the probe).
	if err := (&Store{cfg: Config{DataDir: aCfgs[0].DataDir}}).SaveClusterID("cluster-b"); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("SaveClusterID of another cluster: %v", err)
	}
}

// A quorum without a majority refuses metadata changes with
// ErrNoController (NOT_CONTROLLER to clients) in seconds, however long
// ProposeTimeout is. Before the fix a proposal waited for a leader until
// ProposeTimeout ran out (here ten minutes; the test gives up after two).
func TestNoMajorityRefusesMetadataChanges(t *testing.T) {
	stores, _ := startQuorumWith(t, 3, func(c *Config) { c.ProposeTimeout = 10 * time.Minute })
	if _, err := stores[0].Update(createTopic("before", 1)); err != nil {
		t.Fatal(err)
	}
	leader := stores[0].Controller()
	for i, s := range stores {
		if int32(i+1) != leader {
			s.Close()
		}
	}
	s := stores[leader-1]
	// The leader steps down once it misses a majority for its lease.
	for s.Controller() != -1 {
		time.Sleep(20 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(createTopic("after", 1))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoController) {
			t.Fatalf("update without a majority: %v, want ErrNoController", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("update without a majority got no answer in 2 minutes")
	}
	if _, ok := s.Image().Topic("before"); !ok {
		t.Fatal("the image lost a committed topic")
	}
	if _, ok := s.Image().Topic("after"); ok {
		t.Fatal("a change without a majority was applied")
	}
}

// A node outside --controller-quorum joins as a broker only: the active
// controller adds it as a Raft non-voter, the metadata log reaches it, its
// metadata changes are forwarded, it is fenced like any broker, and the
// majority stays that of the voters.
func TestBrokerOnlyNodeJoins(t *testing.T) {
	stores, cfgs := startRegisteredQuorum(t, 3)
	cfg := cfgs[0]
	cfg.NodeID, cfg.DataDir, cfg.ListenAddr = 4, t.TempDir(), freeAddr(t)
	b, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Register(brokerAddr(4), 30*time.Second); err != nil {
		t.Fatalf("register the broker-only node: %v", err)
	}
	waitImage(t, b, "four live brokers on the broker-only node", func(img *meta.Image) bool { return len(img.LiveBrokers()) == 4 })
	if _, err := b.Update(createTopic("from-broker-only", 4)); err != nil {
		t.Fatalf("update through the broker-only node: %v", err)
	}
	waitTopic(t, stores[0], "from-broker-only")
	if c := b.Controller(); c < 1 || c > 3 {
		t.Fatalf("broker-only node names controller %d", c)
	}
	ctl := stores[b.Controller()-1]
	conf := ctl.raft.GetConfiguration()
	if err := conf.Error(); err != nil {
		t.Fatal(err)
	}
	voters, nonvoters := 0, 0
	for _, srv := range conf.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			voters++
		} else if srv.ID == "4" {
			nonvoters++
		}
	}
	if voters != 3 || nonvoters != 1 {
		t.Fatalf("raft configuration %+v; want the 3 voters and node 4 as a non-voter", conf.Configuration().Servers)
	}
	b.Close()
	waitImage(t, stores[0], "the broker-only node fenced", func(img *meta.Image) bool { return !img.Live(4) && img.Live(1) })
}

// Close ends the heartbeat connections a node serves, even one whose
// broker went silent (stopped, cut off). Before the fix Close waited for
// it to go idle: a minute.
func TestCloseEndsServedHeartbeatConnections(t *testing.T) {
	stores, cfgs := startQuorum(t, 1)
	c, err := dialKind(nil, cfgs[0].Quorum[0].Addr, connHeartbeat, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := roundTrip(c, bufio.NewReader(c), heartbeatRequest{Probe: true, NodeID: 7, Incarnation: "x"}, 5*time.Second); err != nil {
		t.Fatalf("probe: %v", err)
	}
	// The connection stays open and silent.
	done := make(chan error, 1)
	go func() { done <- stores[0].Close() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return in 30s while a silent heartbeat connection was open")
	}
}

// A broker that shuts down cleanly is fenced before Close returns, so its
// partitions change leader at once rather than a session later.
func TestCleanShutdownFencesTheBrokerAtOnce(t *testing.T) {
	stores, _ := startRegisteredQuorum(t, 3)
	ctl := stores[0].Controller()
	victim := int32(1)
	if ctl == victim {
		victim = 2
	}
	if _, err := stores[0].Update(createTopic("t", victim)); err != nil {
		t.Fatal(err)
	}
	if err := stores[victim-1].Close(); err != nil {
		t.Fatal(err)
	}
	// The controller applied the fence before it answered the leaving
	// heartbeat, and Close waited for that answer.
	img := stores[ctl-1].Image()
	if img.Live(victim) {
		t.Fatalf("broker %d is not fenced when its Close returns", victim)
	}
	if top, _ := img.Topic("t"); top.Placement[0].Leader != -1 {
		t.Fatalf("its partition: %+v, want offline (it was the only replica)", top.Placement[0])
	}
}

// linkCutter is a Config.Dial that can cut every connection a node opens.
type linkCutter struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (l *linkCutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return nil, errors.New("link cut by the test")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		l.conns = append(l.conns, c)
	}
	return c, err
}

func (l *linkCutter) set(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for _, c := range l.conns {
			c.Close()
		}
		l.conns = nil
	}
}

// A live broker whose heartbeats cannot reach the controller (its links
// cut through the Dial seam) is fenced like a dead one, and unfenced by
// its first heartbeat once the links heal.
func TestCutOffBrokerIsFencedAndUnfencedWhenLinksHeal(t *testing.T) {
	var q []Voter
	for i := 1; i <= 3; i++ {
		q = append(q, Voter{NodeID: int32(i), Addr: freeAddr(t)})
	}
	cutters := make([]*linkCutter, 3)
	var stores []*Store
	for i := range 3 {
		cutters[i] = &linkCutter{}
		cfg := Config{NodeID: int32(i + 1), DataDir: t.TempDir(), Quorum: q, ProposeTimeout: 20 * time.Second, Raft: fastRaft,
			HeartbeatInterval: testHeartbeat, SessionTimeout: testSession, Dial: cutters[i].dial}
		s, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	for i, s := range stores {
		if err := s.Register(brokerAddr(int32(i+1)), 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ctl := stores[0].Controller()
	victim := int32(1)
	if ctl == victim {
		victim = 2
	}
	observer := stores[ctl-1]
	cutters[victim-1].set(true)
	waitImage(t, observer, "the cut-off broker fenced", func(img *meta.Image) bool { return !img.Live(victim) })
	// It still gets the metadata log: only the dials it makes are cut.
	waitImage(t, stores[victim-1], "the cut-off broker's own image shows it fenced", func(img *meta.Image) bool { return !img.Live(victim) })
	cutters[victim-1].set(false)
	waitImage(t, observer, "the broker unfenced after the links healed", func(img *meta.Image) bool { return img.Live(victim) })
}
