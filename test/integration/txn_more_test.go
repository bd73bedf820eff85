package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// startBrokerAt starts a broker on dataDir, optionally advertising another
// address (a proxy's), and stops it at cleanup unless stopped before.
func startBrokerAt(t testing.TB, dataDir, advertised string) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AdvertisedAddr = advertised
	cfg.AutoCreateTopics = false
	cfg.GroupInitialRebalanceDelay = 100 * time.Millisecond
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { srv.Close() }) })
	return srv
}

// TestTxnSurvivesRestart: after a broker restart, aborted data stays hidden
// from read_committed consumers (the .txnindex and the producer state are
// rebuilt) and an open transaction still holds the LSO until it ends.
func TestTxnSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startBrokerAt(t, dir, "")
	topic := topicName(t)
	createTopic(t, newAdmin(t, srv.Addr()), topic, 2)
	cl := txnClient(t, srv.Addr(), topic+"-txn")
	runTxn(t, cl, topic, 2, true, "c1", "c2")
	runTxn(t, cl, topic, 2, false, "a1", "a2")
	runTxn(t, cl, topic, 2, true, "c3", "c4")
	cl.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = startBrokerAt(t, dir, "")
	rc := values(consumeAll(t, srv.Addr(), topic, 2, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != "[c1 c2 c3 c4]" {
		t.Fatalf("read_committed after restart saw %v", rc)
	}
	// The same transactional id continues with a bumped epoch.
	cl = txnClient(t, srv.Addr(), topic+"-txn")
	runTxn(t, cl, topic, 2, true, "c5", "c6")
	rc = values(consumeAll(t, srv.Addr(), topic, 2, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != "[c1 c2 c3 c4 c5 c6]" {
		t.Fatalf("read_committed after restart and a new txn saw %v", rc)
	}
}

// TestSaramaTransactions: sarama's transactional producer commits and
// aborts.
func TestSaramaTransactions(t *testing.T) {
	srv := startBroker(t)
	topic := topicName(t)
	createTopic(t, newAdmin(t, srv.Addr()), topic, 2)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_5_0_0
	cfg.ClientID = "ferry-integration"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = topic + "-sarama"
	cfg.Producer.Retry.Max = 5
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{srv.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer p.Close()
	send := func(vs ...string) {
		t.Helper()
		for i, v := range vs {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i % 2), Key: sarama.StringEncoder(v), Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
			}
		}
	}
	for round := 0; round < 3; round++ {
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		send(fmt.Sprintf("ok-%d-a", round), fmt.Sprintf("ok-%d-b", round))
		if err := p.CommitTxn(); err != nil {
			t.Fatalf("commit: %v", err)
		}
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		send(fmt.Sprintf("no-%d-a", round), fmt.Sprintf("no-%d-b", round))
		if err := p.AbortTxn(); err != nil {
			t.Fatalf("abort: %v", err)
		}
	}
	rc := values(consumeAll(t, srv.Addr(), topic, 2, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != "[ok-0-a ok-0-b ok-1-a ok-1-b ok-2-a ok-2-b]" {
		t.Fatalf("read_committed saw %v", rc)
	}
	if ru := consumeAll(t, srv.Addr(), topic, 2, time.Second); len(ru) != 12 {
		t.Fatalf("read_uncommitted saw %d records, want 12", len(ru))
	}
}

// TestGroupTransactSessionExactlyOnce: a consume-transform-produce loop with
// franz-go's GroupTransactSession, whose client is restarted midway, writes
// every input record to the output exactly once.
func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	srv := startBrokerAt(t, t.TempDir(), "")
	adm := newAdmin(t, srv.Addr())
	in, out := topicName(t), topicName(t)
	createTopic(t, adm, in, 3)
	createTopic(t, adm, out, 3)
	const n = 3000
	plain := newClient(t, srv.Addr())
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	produceSync(t, plain, rs...)

	group := in + "-g"
	// run processes until stop records were produced in committed
	// transactions (or the input is exhausted), then closes the client.
	run := func(stop int) int {
		sess, err := kgo.NewGroupTransactSession(eosSessionOpts(srv.Addr(), group, in)...)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		done := 0
		idle := 0
		for done < stop && idle < 10 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			fs := sess.PollRecords(ctx, 200)
			cancel()
			if fs.NumRecords() == 0 {
				idle++
				continue
			}
			idle = 0
			if err := sess.Begin(); err != nil {
				t.Fatalf("begin: %v", err)
			}
			ctx = testCtx(t, 20*time.Second)
			perr := produceOut(ctx, sess, out, fs)
			committed, err := sess.End(ctx, kgo.TransactionEndTry(perr == nil))
			if err != nil {
				t.Fatalf("end: %v", err)
			}
			if committed {
				done += fs.NumRecords()
			}
		}
		return done
	}
	first := run(n / 2)
	if first < n/2 {
		t.Fatalf("first run processed %d", first)
	}
	run(n)

	got := consumeAll(t, srv.Addr(), out, 3, 2*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	var dups, missing []string
	for i := 0; i < n; i++ {
		switch c := seen["out-"+strconv.Itoa(i)]; {
		case c == 0:
			missing = append(missing, strconv.Itoa(i))
		case c > 1:
			dups = append(dups, strconv.Itoa(i))
		}
	}
	if len(got) != n || len(dups) > 0 || len(missing) > 0 {
		t.Fatalf("output has %d records, want %d; duplicated %v; missing %v", len(got), n, head(dups), head(missing))
	}
}

func head(s []string) []string { return s[:min(len(s), 10)] }

// flakyProxy forwards TCP to target and cuts every connection after a
// random number of bytes from the client.
type flakyProxy struct {
	lis    net.Listener
	target string
	cuts   int
	mu     sync.Mutex
	rng    *rand.Rand
}

func newFlakyProxy(t testing.TB) *flakyProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{lis: lis, rng: rand.New(rand.NewSource(1))}
	t.Cleanup(func() { lis.Close() })
	return p
}

func (p *flakyProxy) serve() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *flakyProxy) handle(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	p.mu.Lock()
	budget := int64(1<<10 + p.rng.Intn(16<<10))
	p.mu.Unlock()
	go func() { io.Copy(c, s); c.Close() }()
	if n, _ := io.CopyN(s, c, budget); n == budget {
		p.mu.Lock()
		p.cuts++
		p.mu.Unlock()
	}
}

// TestIdempotentProducerThroughFlakyConnections: connections cut mid-stream
// make the producer retry batches whose first attempt may already be in the
// log; the log holds every record exactly once and in order.
func TestIdempotentProducerThroughFlakyConnections(t *testing.T) {
	proxy := newFlakyProxy(t)
	srv := startBrokerAt(t, t.TempDir(), proxy.lis.Addr().String())
	proxy.target = srv.Addr()
	go proxy.serve()
	topic := topicName(t)
	createTopic(t, newAdmin(t, srv.Addr()), topic, 1)

	cl := newClient(t, proxy.lis.Addr().String(),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedRecords(10000),
		kgo.RecordRetries(1000),
		kgo.RequestRetries(1000),
		kgo.RetryBackoffFn(func(int) time.Duration { return 5 * time.Millisecond }),
		kgo.ProducerBatchMaxBytes(8<<10),
	)
	const n = 3000
	ctx := testCtx(t, 60*time.Second)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%06d-%s", i, pad))}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failed = errors.Join(failed, err)
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("produce: %v", failed)
	}
	proxy.mu.Lock()
	cuts := proxy.cuts
	proxy.mu.Unlock()
	if cuts < 3 {
		t.Fatalf("only %d connections were cut; the test proves nothing", cuts)
	}
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, n)
	vs := make([]string, len(got))
	for i, r := range got {
		vs[i] = string(r.Value[:6])
	}
	if !sort.StringsAreSorted(vs) || len(vs) != n {
		t.Fatalf("log holds %d records (want %d), sorted=%v", len(vs), n, sort.StringsAreSorted(vs))
	}
	for i, v := range vs {
		if v != fmt.Sprintf("%06d", i) {
			t.Fatalf("record %d is %s: duplicate or gap", i, v)
		}
	}
	t.Logf("%d records through %d cut connections", n, cuts)
}

var pad = string(make([]byte, 200))
