package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A consume-transform-produce chain of franz-go GroupTransactSessions:
// topic A -> group g1 -> topic B -> group g2 -> topic C, with members of
// both groups joining, leaving and crashing (cut off the network, their
// transaction open or not) while records flow. The read_committed view of
// C must hold every input record exactly once, each key's records in input
// order. The same code runs with KIP-848 groups and with classic ones;
// with KIP-848 groups every transaction used to abort (its TxnOffsetCommit
// was refused), so the chain never moved.
//
// -chain-records scales it (go test -run TransactChain -args
// -chain-records=100000).

var chainRecords = flag.Int("chain-records", 15000, "records through the transactional chain tests")

const (
	chainPartitions = 6
	chainKeys       = 60
)

func TestGroup848TransactChain(t *testing.T) {
	runTransactChain(t, kgo.ServerSideBalancer())
}

func TestGroupClassicTransactChain(t *testing.T) {
	runTransactChain(t, kgo.Balancers(kgo.CooperativeStickyBalancer()))
}

// chainValue is input record i: its key and its sequence within the key.
func chainValue(i int) (key, value string) {
	key = fmt.Sprintf("k%02d", i%chainKeys)
	return key, fmt.Sprintf("%s:%06d", key, i/chainKeys)
}

func runTransactChain(t *testing.T, balancer kgo.Opt) {
	cfg := groupBrokerConfig(t.TempDir())
	cfg.GroupConsumerSessionTimeout = 3 * time.Second
	cfg.GroupConsumerHeartbeatInterval = 300 * time.Millisecond
	srv, _ := startServer(t, cfg)
	addr := srv.Addr()
	admCl := newClient(t, addr)
	adm := kadm.NewClient(admCl)
	a, b, c := topicName(t), topicName(t), topicName(t)
	for _, topic := range []string{a, b, c} {
		createTopic(t, adm, topic, chainPartitions)
	}
	n := *chainRecords

	producer := newClient(t, addr, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(20000))
	for from := 0; from < n; from += 10000 {
		var rs []*kgo.Record
		for i := from; i < min(n, from+10000); i++ {
			k, v := chainValue(i)
			rs = append(rs, &kgo.Record{Topic: a, Key: []byte(k), Value: []byte(v)})
		}
		produceSync(t, producer, rs...)
	}
	producer.Close()

	stages := []*chainStage{
		{group: a + "-g1", in: a, out: b, tag: "g1|"},
		{group: b + "-g2", in: b, out: c, tag: "g2|"},
	}
	for _, s := range stages {
		s.t, s.addr, s.balancer = t, addr, balancer
		s.start()
		s.start()
	}
	defer func() {
		for _, s := range stages {
			s.stopAll()
		}
	}()

	// Watch C and change the groups' members as the output grows: every
	// tenth of the way a member joins each group, or the oldest leaves or
	// (once) crashes.
	watcher := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c: allFrom(chainPartitions, kgo.NewOffset().AtStart())}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	type change struct {
		at   int
		what string
	}
	var changes []change
	for i := 1; i < 10; i++ {
		what := "joins"
		switch {
		case i == 4:
			what = "crashes"
		case i%2 == 0:
			what = "leaves"
		}
		changes = append(changes, change{i * n / 10, what})
	}
	var got []*kgo.Record
	lastProgress := time.Now()
	begin := time.Now()
	const stall = 45 * time.Second
	for len(got) < n {
		if time.Since(lastProgress) > stall {
			t.Fatalf("the chain made no progress for %v: %d of %d records in C\n%s", stall, len(got), n, chainDiagnostics(t, admCl, stages))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := watcher.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("watch %s/%d: %v", topic, p, err)
			}
		})
		if fs.NumRecords() > 0 {
			got = append(got, fs.Records()...)
			lastProgress = time.Now()
		}
		for len(changes) > 0 && len(got) >= changes[0].at {
			for _, s := range stages {
				switch changes[0].what {
				case "joins":
					s.start()
				case "leaves":
					s.stopOldest()
				case "crashes":
					s.crashOldest()
				}
			}
			t.Logf("%d records in C: a member of each group %s", len(got), changes[0].what)
			changes = changes[1:]
		}
	}
	elapsed := time.Since(begin)
	for _, s := range stages {
		s.stopAll()
	}
	// Anything committed after the last expected record is a duplicate.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	got = append(got, watcher.PollFetches(ctx).Records()...)
	cancel()
	for _, s := range stages {
		t.Logf("%s: %d commits, %d aborts, %d end errors, %d sessions", s.group, s.commits.Load(), s.aborts.Load(), s.endErrs.Load(), s.sessions.Load())
	}
	t.Logf("%d records through two transactional groups in %v", n, elapsed.Round(time.Millisecond))
	checkChainOutput(t, got, n, "g2|g1|")
}

// checkChainOutput asserts that rs holds each input record once, tagged,
// and each key's records in input order.
func checkChainOutput(t *testing.T, rs []*kgo.Record, n int, tag string) {
	t.Helper()
	next := map[string]int{} // key -> next sequence
	var bad []string
	for _, r := range rs {
		v, ok := strings.CutPrefix(string(r.Value), tag)
		k, seq, ok2 := strings.Cut(v, ":")
		i, err := strconv.Atoi(seq)
		if !ok || !ok2 || err != nil || k != string(r.Key) {
			bad = append(bad, fmt.Sprintf("malformed %q key %q", r.Value, r.Key))
			continue
		}
		if i != next[k] {
			bad = append(bad, fmt.Sprintf("key %s: sequence %d after %d (partition %d offset %d)", k, i, next[k]-1, r.Partition, r.Offset))
		}
		next[k] = i + 1
	}
	for i := range chainKeys {
		k, _ := chainValue(i)
		want := n / chainKeys
		if i < n%chainKeys {
			want++
		}
		if next[k] != want {
			bad = append(bad, fmt.Sprintf("key %s: ends at %d, want %d", k, next[k], want))
		}
	}
	if len(rs) != n || len(bad) > 0 {
		t.Fatalf("C holds %d records, want %d exactly once in order per key: %v", len(rs), n, head(bad))
	}
}

// chainStage is one group of the chain: its members read in, write out
// with tag prefixed to each value, in transactions.
type chainStage struct {
	t        *testing.T
	addr     string
	balancer kgo.Opt
	group    string
	in, out  string
	tag      string

	mu      sync.Mutex
	members []*chainMember
	seq     int
	crashed sync.WaitGroup // crashed members still closing

	commits, aborts, endErrs, sessions atomic.Int64
}

type chainMember struct {
	stop   chan struct{}
	done   chan struct{}
	dialer *cuttableDialer
	sess   atomic.Pointer[kgo.GroupTransactSession] // the current one
}

// start adds a member with its own transactional id.
func (s *chainStage) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &chainMember{stop: make(chan struct{}), done: make(chan struct{}), dialer: &cuttableDialer{}}
	s.seq++
	name := fmt.Sprintf("%s-m%d", s.group, s.seq)
	s.members = append(s.members, m)
	go s.run(m, name)

}

func (s *chainStage) stopOldest() {
	s.mu.Lock()
	m := s.members[0]
	s.members = s.members[1:]
	s.mu.Unlock()
	close(m.stop)
	<-m.done
}

// crashOldest cuts the oldest member off the network without a leave, in
// whatever state its transaction is: its group session and its transaction
// must time out.
func (s *chainStage) crashOldest() {
	s.mu.Lock()
	m := s.members[0]
	s.members = s.members[1:]
	s.mu.Unlock()
	m.dialer.Cut()
	close(m.stop)
	// The process is gone: its client's calls, which would retry on the
	// cut network for ever, fail now.
	s.crashed.Add(1)
	go func() {
		defer s.crashed.Done()
		if sess := m.sess.Load(); sess != nil {
			sess.Close()
		}
		<-m.done
	}()
}

func (s *chainStage) stopAll() {
	s.mu.Lock()
	ms := s.members
	s.members = nil
	s.mu.Unlock()
	for _, m := range ms {
		close(m.stop)
	}
	for _, m := range ms {
		<-m.done
	}
	s.crashed.Wait()
}

func (s *chainStage) newSession(name string, dialer *cuttableDialer) *kgo.GroupTransactSession {
	s.sessions.Add(1)
	opts := append(eosSessionOpts(s.addr, s.group, s.in),
		kgo.TransactionalID(name),
		kgo.ClientID(name),
		s.balancer,
		kgo.SessionTimeout(3*time.Second),
		kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.FetchMaxPartitionBytes(64<<10),
		kgo.ProducerLinger(time.Millisecond),
		kgo.Dialer(dialer.DialContext),
		// A crashed member's open transaction holds read_committed
		// consumers of its output until the coordinator aborts it.
		kgo.TransactionTimeout(5*time.Second),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		s.t.Errorf("new session: %v", err)
		return nil
	}
	return sess
}

// run is one member's loop: poll, produce the transformed records, end
// the transaction; an End error restarts the client, as an application
// would.
func (s *chainStage) run(m *chainMember, name string) {
	defer close(m.done)
	sess := s.newSession(name, m.dialer)
	if sess == nil {
		return
	}
	m.sess.Store(sess)
	defer func() { sess.Close() }()
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := sess.PollRecords(ctx, 300)
		cancel()
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			s.t.Errorf("%s: begin: %v", name, err)
			return
		}
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		var wg sync.WaitGroup
		var perr atomic.Value
		fs.EachRecord(func(r *kgo.Record) {
			wg.Add(1)
			out := &kgo.Record{Topic: s.out, Key: r.Key, Value: append([]byte(s.tag), r.Value...)}
			sess.Produce(ctx, out, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.Store(err)
				}
				wg.Done()
			})
		})
		wg.Wait()
		committed, err := sess.End(ctx, kgo.TransactionEndTry(perr.Load() == nil))
		cancel()
		switch {
		case err != nil:
			s.endErrs.Add(1)
			s.t.Logf("%s: end: %v; restarting the client", name, err)
			sess.Close()
			if sess = s.newSession(name, m.dialer); sess == nil {
				return
			}
			m.sess.Store(sess)
		case committed:
			s.commits.Add(1)
		default:
			s.aborts.Add(1)
		}
	}
}

// chainDiagnostics describes the stages' groups and offsets for a stall.
func chainDiagnostics(t *testing.T, cl *kgo.Client, stages []*chainStage) string {
	adm := kadm.NewClient(cl)
	var sb strings.Builder
	ctx := testCtx(t, 10*time.Second)
	for _, s := range stages {
		fmt.Fprintf(&sb, "%s: %d commits, %d aborts, %d end errors, %d sessions\n", s.group, s.commits.Load(), s.aborts.Load(), s.endErrs.Load(), s.sessions.Load())
		if owned, state, overlap, err := describe848(ctx, cl, s.group); err == nil {
			fmt.Fprintf(&sb, "  consumer group %s: owned %v %s\n", state, owned, overlap)
		}
		if os, err := adm.FetchOffsets(ctx, s.group); err == nil {
			ends := endOffsets(t, adm, s.in)
			os.Each(func(o kadm.OffsetResponse) {
				fmt.Fprintf(&sb, "  %s/%d committed %d (end %d)\n", o.Topic, o.Partition, o.At, ends[o.Partition])
			})
		}
	}
	return sb.String()
}
