package integration

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// Consumer groups end to end: franz-go and sarama group consumers against
// an in-process broker with short group timeouts.

// groupSession is the session timeout the group tests' clients ask for; the
// broker accepts it because its minimum is lowered to 1s.
const groupSession = 3 * time.Second

func groupBrokerConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	cfg.GroupMinSessionTimeout = time.Second
	cfg.GroupInitialRebalanceDelay = 200 * time.Millisecond
	return cfg
}

// startGroupBroker starts a broker on dir; stop it with the returned
// function (also run at cleanup, once).
func startGroupBroker(t testing.TB, dir string) (*server.Server, func()) {
	t.Helper()
	return startServer(t, groupBrokerConfig(dir))
}

// processed records, at least once, every record any member consumed.
type processed struct {
	mu   sync.Mutex
	seen map[int32]map[int64]int // partition -> offset -> times
	by   map[string]int          // member -> records
}

func newProcessed() *processed {
	return &processed{seen: map[int32]map[int64]int{}, by: map[string]int{}}
}

func (p *processed) add(member string, partition int32, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.seen[partition]
	if m == nil {
		m = map[int64]int{}
		p.seen[partition] = m
	}
	m[offset]++
	p.by[member]++
}

// missing counts offsets below end that nobody processed.
func (p *processed) missing(end map[int32]int64) int { return p.missingFrom(nil, end) }

// missingFrom counts offsets from start (0 where it has no entry) to end
// that nobody processed.
func (p *processed) missingFrom(start, end map[int32]int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for part, e := range end {
		for o := start[part]; o < e; o++ {
			if p.seen[part][o] == 0 {
				n++
			}
		}
	}
	return n
}

// cuttableDialer lets a test sever a client from the broker without the
// client knowing: existing connections are closed and new dials fail, so a
// group member stops heartbeating without leaving.
type cuttableDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cuttableDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, fmt.Errorf("test: network cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cuttableDialer) Cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		c.Close()
	}
}

// franzMember is one franz-go group consumer polling in a goroutine.
type franzMember struct {
	name   string
	cl     *kgo.Client
	dialer *cuttableDialer
	cancel context.CancelFunc
	done   chan struct{}
}

func startFranzMember(t *testing.T, addr, groupID, topic, name string, p *processed, extra ...kgo.Opt) *franzMember {
	t.Helper()
	m := &franzMember{name: name, dialer: &cuttableDialer{}, done: make(chan struct{})}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.Dialer(m.dialer.DialContext),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(groupSession),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.AutoCommitInterval(300 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RetryTimeout(10 * time.Second),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.ClientID(name),
	}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { p.add(name, r.Partition, r.Offset) })
		}
	}()
	t.Cleanup(m.kill)
	return m
}

// close stops polling and closes the client, which commits and leaves.
func (m *franzMember) close() {
	m.cancel()
	<-m.done
	m.cl.Close()
}

// kill cuts the member off without a LeaveGroup, then releases it.
func (m *franzMember) kill() {
	m.dialer.Cut()
	m.cancel()
	<-m.done
	m.cl.Close()
}

func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v (last: %s)", what, within, last)
}

// assignment returns each member's (by client id) partition count when the
// group is Stable.
func stableAssignment(ctx context.Context, adm *kadm.Client, groupID string) (map[string]int, string) {
	dg, err := adm.DescribeGroups(ctx, groupID)
	if err != nil {
		return nil, err.Error()
	}
	g := dg[groupID]
	if g.Err != nil {
		return nil, g.Err.Error()
	}
	if g.State != "Stable" {
		return nil, "state " + g.State
	}
	out := map[string]int{}
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			return nil, "assignment is not a consumer assignment"
		}
		n := 0
		for _, t := range ca.Topics {
			n += len(t.Partitions)
		}
		out[m.ClientID] = n
	}
	return out, fmt.Sprint(out)
}

func waitAssignment(t *testing.T, adm *kadm.Client, groupID string, want map[string]int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("assignment %v", want), func() (bool, string) {
		got, desc := stableAssignment(testCtx(t, 5*time.Second), adm, groupID)
		if len(got) != len(want) {
			return false, desc
		}
		for k, v := range want {
			if got[k] != v {
				return false, desc
			}
		}
		return true, desc
	})
}

func produceRound(t *testing.T, cl *kgo.Client, topic string, partitions int32, perPartition int, round int) {
	t.Helper()
	var rs []*kgo.Record
	for p := range partitions {
		for i := range perPartition {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "r%d-p%d-%d", round, p, i)})
		}
	}
	produceSync(t, cl, rs...)
}

func waitProcessed(t *testing.T, p *processed, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	end := endOffsets(t, adm, topic)
	eventually(t, 30*time.Second, "every produced record processed", func() (bool, string) {
		n := p.missing(end)
		return n == 0, fmt.Sprintf("%d missing", n)
	})
	return end
}

// waitCommitted waits until groupID's committed offsets on topic are end.
func waitCommitted(t *testing.T, adm *kadm.Client, groupID, topic string, end map[int32]int64) {
	t.Helper()
	eventually(t, 20*time.Second, "committed offsets reach the log end", func() (bool, string) {
		committed, err := adm.FetchOffsets(testCtx(t, 5*time.Second), groupID)
		if err != nil {
			return false, err.Error()
		}
		for part, e := range end {
			o, ok := committed.Lookup(topic, part)
			if !ok || o.At != e {
				return false, fmt.Sprintf("partition %d committed %v, end %d", part, o.At, e)
			}
		}
		return true, ""
	})
}

// waitResumed waits until after, the members that replaced a group which
// committed end, has processed every record from end to the log end, and
// fails the test for each record below end they processed again.
func waitResumed(t *testing.T, after *processed, adm *kadm.Client, topic string, end map[int32]int64) {
	t.Helper()
	newEnd := endOffsets(t, adm, topic)
	eventually(t, 30*time.Second, "records after the committed offsets processed", func() (bool, string) {
		n := after.missingFrom(end, newEnd)
		return n == 0, fmt.Sprintf("%d missing", n)
	})
	after.mu.Lock()
	defer after.mu.Unlock()
	for part, offs := range after.seen {
		for o := range offs {
			if o < end[part] {
				t.Errorf("partition %d offset %d processed again after restart (committed %d)", part, o, end[part])
			}
		}
	}
}

func TestGroupFranzRebalanceAndResume(t *testing.T) {
	t.Parallel()
	srv, _ := startGroupBroker(t, t.TempDir())
	addr := srv.Addr()
	adm := newAdmin(t, addr)
	topic := topicName(t)
	const parts = 12
	createTopic(t, adm, topic, parts)
	groupID := "g-" + topic
	producer := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	p := newProcessed()

	produceRound(t, producer, topic, parts, 20, 1)
	a := startFranzMember(t, addr, groupID, topic, "a", p)
	b := startFranzMember(t, addr, groupID, topic, "b", p)
	c := startFranzMember(t, addr, groupID, topic, "c", p)
	waitAssignment(t, adm, groupID, map[string]int{"a": 4, "b": 4, "c": 4})
	waitProcessed(t, p, adm, topic)

	// A member that leaves hands its partitions over at once.
	a.close()
	waitAssignment(t, adm, groupID, map[string]int{"b": 6, "c": 6})
	produceRound(t, producer, topic, parts, 20, 2)
	waitProcessed(t, p, adm, topic)

	// A member that vanishes loses its partitions after its session times out.
	b.kill()
	waitAssignment(t, adm, groupID, map[string]int{"c": 12})
	produceRound(t, producer, topic, parts, 20, 3)
	end := waitProcessed(t, p, adm, topic)

	// The last member commits as it leaves: the group's offsets are the log end.
	c.close()
	waitCommitted(t, adm, groupID, topic, end)

	// Lag is visible while nobody consumes.
	produceRound(t, producer, topic, parts, 5, 4)
	lags, err := adm.Lag(testCtx(t, 10*time.Second), groupID)
	if err != nil {
		t.Fatalf("lag: %v", err)
	}
	if err := lags.Error(); err != nil {
		t.Fatalf("lag: %v", err)
	}
	if total := lags[groupID].Lag.Total(); total != parts*5 {
		t.Fatalf("lag total %d, want %d", total, parts*5)
	}

	// Restarted members resume from the committed offsets: nothing below
	// them is processed again.
	after := newProcessed()
	for _, name := range []string{"a2", "b2", "c2"} {
		startFranzMember(t, addr, groupID, topic, name, after)
	}
	waitAssignment(t, adm, groupID, map[string]int{"a2": 4, "b2": 4, "c2": 4})
	waitResumed(t, after, adm, topic, end)
	if n := p.missing(end); n != 0 {
		t.Fatalf("%d records never processed", n)
	}
}

func TestGroupOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := startGroupBroker(t, dir)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 3)
	groupID := "g-" + topic
	offsets := kadm.Offsets{}
	for p := range int32(3) {
		offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(10 + p), LeaderEpoch: -1, Metadata: fmt.Sprintf("meta-%d", p)})
	}
	resp, err := adm.CommitOffsets(testCtx(t, 10*time.Second), groupID, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	stop()

	srv2, _ := startGroupBroker(t, dir)
	adm2 := newAdmin(t, srv2.Addr())
	got, err := adm2.FetchOffsets(testCtx(t, 10*time.Second), groupID)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	for p := range int32(3) {
		o, ok := got.Lookup(topic, p)
		if !ok || o.At != int64(10+p) || o.Metadata != fmt.Sprintf("meta-%d", p) {
			t.Errorf("partition %d after restart: %+v (found %v)", p, o, ok)
		}
	}
	listed, err := adm2.ListGroups(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if _, ok := listed[groupID]; !ok {
		t.Errorf("group %s not listed after restart: %v", groupID, listed.Groups())
	}
	// __consumer_offsets is internal and may not be written by clients.
	md, err := adm2.Metadata(testCtx(t, 10*time.Second), "__consumer_offsets")
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if !md.Topics["__consumer_offsets"].IsInternal {
		t.Errorf("__consumer_offsets is not reported internal")
	}
}

func TestGroupFranzStaticMemberRestartKeepsGeneration(t *testing.T) {
	t.Parallel()
	srv, _ := startGroupBroker(t, t.TempDir())
	addr := srv.Addr()
	adm := newAdmin(t, addr)
	topic := topicName(t)
	const parts = 6
	createTopic(t, adm, topic, parts)
	groupID := "g-" + topic
	producer := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	p := newProcessed()

	a := startFranzMember(t, addr, groupID, topic, "a", p, kgo.InstanceID("instance-a"))
	b := startFranzMember(t, addr, groupID, topic, "b", p, kgo.InstanceID("instance-b"))
	waitAssignment(t, adm, groupID, map[string]int{"a": 3, "b": 3})
	produceRound(t, producer, topic, parts, 10, 1)
	waitProcessed(t, p, adm, topic)
	_, gen := a.cl.GroupMetadata()

	// A static member's Close does not leave; its successor with the same
	// instance id takes its place without a rebalance.
	b.close()
	b2 := startFranzMember(t, addr, groupID, topic, "b2", p, kgo.InstanceID("instance-b"))
	waitAssignment(t, adm, groupID, map[string]int{"a": 3, "b2": 3})
	produceRound(t, producer, topic, parts, 10, 2)
	waitProcessed(t, p, adm, topic)
	if _, gen2 := b2.cl.GroupMetadata(); gen2 != gen {
		t.Errorf("restarted static member is in generation %d, want %d (no rebalance)", gen2, gen)
	}
	if _, genA := a.cl.GroupMetadata(); genA != gen {
		t.Errorf("other member moved to generation %d from %d", genA, gen)
	}
}
