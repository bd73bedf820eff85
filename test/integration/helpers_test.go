package integration

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// startBroker starts a fresh in-process broker on 127.0.0.1:0 with its data
// in t.TempDir(). Topic defaults are given as key=value strings.
func startBroker(t testing.TB, topicDefaults ...string) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	for _, kv := range topicDefaults {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("bad topic default %q", kv)
		}
		cfg.TopicDefaults[k] = v
	}
	srv, _ := startServer(t, cfg)
	return srv
}

// startServer starts a broker with cfg; stop it with the returned function
// (also run at cleanup, once).
func startServer(t testing.TB, cfg config.Config) (*server.Server, func()) {
	t.Helper()
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := srv.Close(); err != nil {
				t.Errorf("close broker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

var topicSeq atomic.Int64

// topicName returns a topic name unique within the test binary.
func topicName(t testing.TB) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	if len(n) > 150 {
		n = n[:150]
	}
	return fmt.Sprintf("%s-%d", n, topicSeq.Add(1))
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client seeded with addr, closed at cleanup.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RetryTimeout(20 * time.Second),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t testing.TB, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr))
}

// createTopic creates topic with the given partitions and key=value configs.
func createTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32, configs ...string) {
	t.Helper()
	m := map[string]*string{}
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("bad config %q", kv)
		}
		m[k] = kadm.StringPtr(v)
	}
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), partitions, 1, m, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, err, resp.ErrMessage)
	}
}

// produceSync produces rs and fails the test on any error.
func produceSync(t testing.TB, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(testCtx(t, 30*time.Second), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeN consumes topic's partitions from the given offsets until n records
// arrived (failing after timeout), then polls briefly more to catch extras.
// Records are returned in the order they were received, which is offset order
// within a partition.
func consumeN(t testing.TB, addr string, offsets map[int32]kgo.Offset, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	all := append([]kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(250 * time.Millisecond),
	}, opts...)
	cl := newClient(t, addr, all...)
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("consume %s: got %d records, want %d", topic, len(got), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if err != context.DeadlineExceeded {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		got = append(got, fs.Records()...)
	}
	// A short extra poll: nothing more must come.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	fs := cl.PollFetches(ctx)
	cancel()
	got = append(got, fs.Records()...)
	if len(got) != n {
		t.Fatalf("consume %s: got %d records, want exactly %d", topic, len(got), n)
	}
	return got
}

// allFrom returns offsets starting every partition in [0, parts) at at.
func allFrom(parts int32, at kgo.Offset) map[int32]kgo.Offset {
	m := make(map[int32]kgo.Offset, parts)
	for p := range parts {
		m[p] = at
	}
	return m
}

func byPartition(rs []*kgo.Record) map[int32][]*kgo.Record {
	m := map[int32][]*kgo.Record{}
	for _, r := range rs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

// sameRecord reports how got differs from want in key, value and headers.
func recordDiff(want, got *kgo.Record) string {
	var d []string
	if !bytes.Equal(want.Key, got.Key) {
		d = append(d, fmt.Sprintf("key %q != %q", got.Key, want.Key))
	}
	if !bytes.Equal(want.Value, got.Value) {
		d = append(d, fmt.Sprintf("value (%d bytes) %.40q != (%d bytes) %.40q", len(got.Value), got.Value, len(want.Value), want.Value))
	}
	if !slices.EqualFunc(want.Headers, got.Headers, func(a, b kgo.RecordHeader) bool {
		return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
	}) {
		d = append(d, fmt.Sprintf("headers %v != %v", got.Headers, want.Headers))
	}
	return strings.Join(d, "; ")
}

// checkOffsetsContiguous asserts that each partition's records have offsets
// from..from+len-1 in order.
func checkOffsetsContiguous(t testing.TB, rs []*kgo.Record, from map[int32]int64) {
	t.Helper()
	for p, prs := range byPartition(rs) {
		next := from[p]
		for _, r := range prs {
			if r.Offset != next {
				t.Fatalf("partition %d: offset %d, want %d", p, r.Offset, next)
			}
			next++
		}
	}
}

func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	lo, err := adm.ListEndOffsets(testCtx(t, 15*time.Second), topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	m := map[int32]int64{}
	for p, o := range lo[topic] {
		m[p] = o.Offset
	}
	return m
}

func startOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	lo, err := adm.ListStartOffsets(testCtx(t, 15*time.Second), topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list start offsets: %v", err)
	}
	m := map[int32]int64{}
	for p, o := range lo[topic] {
		m[p] = o.Offset
	}
	return m
}

// eosSessionOpts are the options of a read-process-write session, as group,
// from topic in: read_committed, stable offsets, small fetches.
func eosSessionOpts(addr, group, in string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.TransactionalID(group + "-txn"),
		kgo.TransactionTimeout(20 * time.Second),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.FetchMaxPartitionBytes(4 << 10),
	}
}

// produceOut produces each record of fs to topic out, its value prefixed
// "out-", in sess's open transaction, and returns once all are acknowledged
// with the last produce error.
func produceOut(ctx context.Context, sess *kgo.GroupTransactSession, out string, fs kgo.Fetches) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var perr error
	fs.EachRecord(func(r *kgo.Record) {
		wg.Add(1)
		sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: append([]byte("out-"), r.Value...)}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = err
				mu.Unlock()
			}
			wg.Done()
		})
	})
	wg.Wait()
	return perr
}
