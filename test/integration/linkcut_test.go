package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/server"
	"github.com/ferry-mq/ferry/internal/vfs"
	"github.com/ferry-mq/ferry/internal/vfs/errorfs"
)

// testNet is the network between in-process nodes: every connection a
// node opens to another goes through its dialer (config.Config.Dial), so
// the test can cut the link between two nodes — new dials fail and open
// connections are closed — and heal it again. Clients of the test dial
// directly and are never cut.
type testNet struct {
	mu    sync.Mutex
	owner map[string]int  // listen address -> node
	kafka map[string]bool // the Kafka listeners among them
	cut   map[[2]int]bool
	delay map[[2]int]time.Duration
	conns map[[2]int][]net.Conn
}

func newTestNet() *testNet {
	return &testNet{owner: map[string]int{}, kafka: map[string]bool{}, cut: map[[2]int]bool{}, delay: map[[2]int]time.Duration{}, conns: map[[2]int][]net.Conn{}}
}

// slow delays every write on the Kafka-port links between a and b (both
// ways, open connections included: replica fetches) by d; 0 removes the
// delay. The controller port is left alone, so Raft and heartbeats see a
// healthy network.
func (n *testNet) slow(a, b int, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.delay[[2]int{a, b}], n.delay[[2]int{b, a}] = d, d
}

func (n *testNet) delayOf(k [2]int) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.delay[k]
}

// delayedConn sleeps before each write for the link's current delay.
type delayedConn struct {
	net.Conn
	n    *testNet
	link [2]int
}

func (c *delayedConn) Write(b []byte) (int, error) {
	if d := c.n.delayOf(c.link); d > 0 {
		time.Sleep(d)
	}
	return c.Conn.Write(b)
}

func (n *testNet) dialer(from int) config.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.mu.Lock()
		to, known := n.owner[addr]
		cut := known && n.cut[[2]int{from, to}]
		n.mu.Unlock()
		if cut {
			return nil, fmt.Errorf("test network: link %d -> %d is cut", from, to)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || !known {
			return c, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.cut[[2]int{from, to}] {
			c.Close()
			return nil, fmt.Errorf("test network: link %d -> %d is cut", from, to)
		}
		n.conns[[2]int{from, to}] = append(n.conns[[2]int{from, to}], c)
		if !n.kafka[addr] {
			return c, nil
		}
		return &delayedConn{Conn: c, n: n, link: [2]int{from, to}}, nil
	}
}

// isolate cuts every link between node and the others.
func (n *testNet) isolate(node int, others ...int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range others {
		for _, k := range [][2]int{{node, o}, {o, node}} {
			n.cut[k] = true
			for _, c := range n.conns[k] {
				c.Close()
			}
			n.conns[k] = nil
		}
	}
}

func (n *testNet) healAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
}

// inprocCluster starts n nodes in this process on one testNet.
func inprocCluster(t *testing.T, n int, tune func(*config.Config)) ([]*server.Server, *testNet) {
	t.Helper()
	tn := newTestNet()
	kafkaAddrs := make([]string, n)
	ctrlAddrs := make([]string, n)
	quorum := ""
	for i := range n {
		kafkaAddrs[i], ctrlAddrs[i] = freeAddr(t), freeAddr(t)
		tn.owner[kafkaAddrs[i]], tn.owner[ctrlAddrs[i]] = i+1, i+1
		tn.kafka[kafkaAddrs[i]] = true
		if i > 0 {
			quorum += ","
		}
		quorum += strconv.Itoa(i+1) + "@" + ctrlAddrs[i]
	}
	srvs := make([]*server.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := config.Default()
		cfg.NodeID = int32(i + 1)
		cfg.DataDir = t.TempDir()
		cfg.KafkaAddr = kafkaAddrs[i]
		cfg.ControllerAddr = ctrlAddrs[i]
		cfg.ControllerQuorum = quorum
		cfg.AutoCreateTopics = false
		cfg.Dial = tn.dialer(i + 1)
		if tune != nil {
			tune(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = server.Start(cfg, nil)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		tn.healAll()
		for _, s := range srvs {
			if s != nil {
				s.Close()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return srvs, tn
}

// A leader cut off from the other two nodes stops acknowledging acks=all
// writes; the others elect a new leader that takes writes; when the links
// heal, the old leader truncates what only it had (an acks=1 write made
// while it was cut off) and copies the new leader's log. No acknowledged
// acks=all record is lost.
func TestCutOffLeaderStopsAckingAndTruncates(t *testing.T) {
	srvs, tn := inprocCluster(t, 3, func(c *config.Config) { c.ReplicaLagTimeMax = 2 * time.Second })
	topic := topicName(t)
	adm := newAdmin(t, srvs[0].Addr())
	createReplicatedTopic(t, adm, topic, 1)
	md := waitTopicMetadata(t, adm, topic)
	old := md.Topics[topic].Partitions[0]
	leader := int(old.Leader)
	var others []int
	for i := 1; i <= 3; i++ {
		if i != leader {
			others = append(others, i)
		}
	}
	produceTo := func(addr string, acks kgo.Acks, from, n int, timeout time.Duration) error {
		opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks), kgo.RecordDeliveryTimeout(timeout), kgo.ProduceRequestTimeout(timeout / 2)}
		if acks != kgo.AllISRAcks() {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		cl := newClient(t, addr, opts...)
		var rs []*kgo.Record
		for i := from; i < from+n; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		return cl.ProduceSync(testCtx(t, timeout+30*time.Second), rs...).FirstErr()
	}
	if err := produceTo(srvs[leader-1].Addr(), kgo.AllISRAcks(), 0, 100, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })

	tn.isolate(leader, others...)
	// Straight to the old leader: a client that refreshed its metadata
	// elsewhere would rightly go to the new leader instead.
	// (kgo stamps a raw produce with the client's acks setting.)
	direct := newClient(t, srvs[leader-1].Addr())
	direct1 := newClient(t, srvs[leader-1].Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if code := produceOne(t, direct, int32(leader), topic, -1, "v01000"); code == 0 {
		t.Fatal("the cut-off leader acknowledged an acks=all write")
	} else {
		t.Logf("acks=all write to the cut-off leader: %v", kerr.ErrorForCode(code))
	}
	if code := produceOne(t, direct1, int32(leader), topic, 1, "v02000"); code != 0 {
		t.Fatalf("acks=1 write to the cut-off leader: %v", kerr.ErrorForCode(code))
	}

	// The majority side elects another leader, which takes writes.
	side := newAdmin(t, srvs[others[0]-1].Addr())
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := side.Metadata(testCtx(t, 10*time.Second), topic)
		if err == nil {
			p := md.Topics[topic].Partitions[0]
			if p.Leader >= 0 && int(p.Leader) != leader && p.LeaderEpoch > old.LeaderEpoch {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader on the majority side: %+v", md.Topics[topic].Partitions[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := produceTo(srvs[others[0]-1].Addr(), kgo.AllISRAcks(), 100, 100, 30*time.Second); err != nil {
		t.Fatalf("acks=all write on the majority side: %v", err)
	}

	tn.healAll()
	waitISR(t, side, topic, func(isr []int32) bool { return len(isr) == 3 && slices.Contains(isr, int32(leader)) })
	md = waitTopicMetadata(t, side, topic)
	got := consumeValues(t, srvs[md.Topics[topic].Partitions[0].Leader-1].Addr(), topic, 200)
	for i, v := range got {
		if want := fmt.Sprintf("v%05d", i); v != want {
			t.Fatalf("record %d is %q, want %q (the cut-off leader's writes must be gone)", i, v, want)
		}
	}

	// The old leader truncated its own writes and copied the new log:
	// once the followers have the last batch, all three copies match.
	time.Sleep(time.Second)
	var dirs []string
	for _, s := range srvs {
		dirs = append(dirs, s.Broker.Config().DataDir)
		s.Close()
	}
	first := partitionBytes(t, dirs[0], topic, 0)
	for i, d := range dirs[1:] {
		if got := partitionBytes(t, d, topic, 0); !bytes.Equal(got, first) {
			t.Fatalf("node %d's copy of %s-0 (%d bytes) differs from node 1's (%d bytes)", i+2, topic, len(got), len(first))
		}
	}
}

// produceOne sends one record to partition 0 of topic at node, with acks,
// and returns the partition's error code.
func produceOne(t *testing.T, cl *kgo.Client, node int32, topic string, acks int16, value string) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 2000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = log.NewBatch([]log.KeyValue{{Value: []byte(value)}}, time.Now())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 20*time.Second), cl.Broker(int(node)))
	if err != nil {
		t.Fatalf("produce to node %d: %v", node, err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// A follower behind a slow link (every write on it delayed 3 s, so its
// fetches never keep up) leaves the ISR after --replica-lag-time-max
// while it still heartbeats — the leader, not the controller's fencing,
// drops it — and acks=all writes go on with the other two; once the link
// is fast again it catches up and rejoins.
func TestSlowFollowerLeavesAndRejoinsISR(t *testing.T) {
	srvs, tn := inprocCluster(t, 3, func(c *config.Config) {
		c.ReplicaLagTimeMax = time.Second
		c.BrokerSessionTimeout = 20 * time.Second // the slow link must not get it fenced
	})
	topic := topicName(t)
	adm := newAdmin(t, srvs[0].Addr())
	createReplicatedTopic(t, adm, topic, 1)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	md := waitTopicMetadata(t, adm, topic)
	p0 := md.Topics[topic].Partitions[0]
	// One acks=all write first: the leader has the partition open and
	// both followers fetch (a new topic's ISR is whole before that).
	cl := newClient(t, srvs[p0.Leader-1].Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	produceSync(t, cl, &kgo.Record{Value: []byte("v00000")})
	var slowNode int32 = -1
	for _, r := range p0.Replicas {
		if r != p0.Leader {
			slowNode = r
			break
		}
	}
	tn.slow(int(slowNode), int(p0.Leader), 3*time.Second)
	for i := 1; i < 20; i++ {
		produceSync(t, cl, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 2 && !slices.Contains(isr, slowNode) })
	md = waitTopicMetadata(t, adm, topic)
	if got := md.Topics[topic].Partitions[0]; got.Leader != p0.Leader || got.LeaderEpoch != p0.LeaderEpoch {
		t.Fatalf("leadership moved (%+v): the slow follower should only leave the ISR", got)
	}
	brokers, err := adm.ListBrokers(testCtx(t, 10*time.Second))
	if err != nil || len(brokers) != 3 {
		t.Fatalf("brokers %v (%v): the slow follower must stay registered, not fenced", brokers, err)
	}

	tn.slow(int(slowNode), int(p0.Leader), 0)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	for i := 20; i < 40; i++ {
		produceSync(t, cl, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	got := consumeValues(t, srvs[p0.Leader-1].Addr(), topic, 40)
	for i, v := range got {
		if want := fmt.Sprintf("v%05d", i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
}

// A follower whose disk is full (every partition write fails with ENOSPC)
// falls behind and leaves the ISR; acks=all writes go on with the other
// two, and once the disk has room again the follower catches up and
// rejoins. Nothing acknowledged is lost.
func TestFollowerDiskFullLeavesAndRejoinsISR(t *testing.T) {
	disks := map[int32]*errorfs.FS{}
	srvs, _ := inprocCluster(t, 3, func(c *config.Config) {
		c.ReplicaLagTimeMax = time.Second
		disks[c.NodeID] = errorfs.New(vfs.Default)
		c.LogFS = disks[c.NodeID]
	})
	topic := topicName(t)
	adm := newAdmin(t, srvs[0].Addr())
	createReplicatedTopic(t, adm, topic, 1)
	p0 := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0]
	cl := newClient(t, srvs[p0.Leader-1].Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	produceSync(t, cl, &kgo.Record{Value: []byte("v00000")})
	var full int32 = -1
	for _, r := range p0.Replicas {
		if r != p0.Leader {
			full = r
			break
		}
	}
	disks[full].Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ENOSPC})
	for i := 1; i < 20; i++ {
		produceSync(t, cl, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 2 && !slices.Contains(isr, full) })
	if disks[full].Injected() == 0 {
		t.Fatal("no write failed on the full disk")
	}
	disks[full].Reset()
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	got := consumeValues(t, srvs[p0.Leader-1].Addr(), topic, 20)
	for i, v := range got {
		if want := fmt.Sprintf("v%05d", i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
}
