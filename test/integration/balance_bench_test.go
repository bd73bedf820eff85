package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The BENCHMARKS.md figures for scale-out: a 3-broker cluster holding
// FERRY_BALANCE_MB of 1 KiB records (12 partitions, RF 3) gets two more
// brokers. It measures acks=all produce throughput for 10 s before, and
// for the first 10 s of the move, then the time until every broker is
// within 10% and the bytes the new brokers hold. FERRY_BALANCE_THROTTLE
// sets --replication-throttle (bytes/s; 0 or unset: none). Runs only when
// FERRY_BALANCE_MB is set.
func TestBalanceScaleOutCost(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("FERRY_BALANCE_MB"))
	if mb <= 0 {
		t.Skip("set FERRY_BALANCE_MB (e.g. 1024) to measure a scale-out")
	}
	throttle := os.Getenv("FERRY_BALANCE_THROTTLE")
	if throttle == "" {
		throttle = "0"
	}
	procs, args := startClusterWith(t, 3, "--replication-throttle", throttle, "--topic-default", "flush.policy=os")
	quorum := args[0][slices.Index(args[0], "--controller-quorum")+1]
	addrs := []string{procs[0].addr, procs[1].addr, procs[2].addr}
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	topic := topicName(t)
	createBalanceTopic(t, adm, topic, 12, 3)

	// Fill.
	start := time.Now()
	n := produceFor(t, addrs, topic, 0, int64(mb)<<20)
	took := time.Since(start)
	t.Logf("filled %d MB in %s (%.0f MB/s)", n>>10, took.Round(100*time.Millisecond), float64(n>>10)/took.Seconds())

	const window = 10 * time.Second
	before := produceFor(t, addrs, topic, window, 0)
	t.Logf("before: %.0f records/s (%.1f MB/s)", float64(before)/window.Seconds(), float64(before)/1024/window.Seconds())

	t0 := time.Now()
	for _, id := range []string{"4", "5"} {
		startFerry(t, t.TempDir(), "--node-id", id, "--controller-addr", freeAddr(t), "--controller-quorum", quorum,
			"--replication-throttle", throttle, "--topic-default", "flush.policy=os")
	}
	during := produceFor(t, addrs, topic, window, 0)
	t.Logf("first %s of the move: %.0f records/s (%.1f MB/s), %.2f× before", window, float64(during)/window.Seconds(),
		float64(during)/1024/window.Seconds(), float64(during)/float64(before))

	waitLayout(t, cl, 60*time.Minute, "five balanced brokers", func(l layout) bool {
		return slices.Equal(l.brokers, []int32{1, 2, 3, 4, 5}) && l.moving == 0 && l.replicas[4] > 0 && l.replicas[5] > 0 &&
			balancedWithin(l.replicas, l.brokers) && balancedWithin(l.leaders, l.brokers)
	})
	took = time.Since(t0)
	dirs, err := adm.DescribeAllLogDirs(testCtx(t, 30*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	var onNew int64
	for _, b := range []int32{4, 5} {
		dirs[b].Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) { onNew += p.Size })
		})
	}
	// The controller logs the round once it planned nothing more.
	var logged string
	waitFor(t, 30*time.Second, "the balancer's summary", func() bool {
		for _, p := range procs {
			if m := balanceDoneRE.FindAllString(p.log(), -1); m != nil {
				logged = m[len(m)-1]
			}
		}
		return logged != ""
	})
	if os.Getenv("FERRY_BALANCE_LOG") != "" {
		for _, p := range procs {
			for _, line := range regexp.MustCompile(`(?m)^.*balancer: (planned|done|starting).*$`).FindAllString(p.log(), -1) {
				t.Log(line)
			}
		}
	}
	t.Logf("balanced %s after the brokers started (throttle %s B/s); brokers 4 and 5 hold %d MB (%.0f MB/s); controller: %s",
		took.Round(time.Second), throttle, onNew>>20, float64(onNew>>20)/took.Seconds(), logged)
}

var balanceDoneRE = regexp.MustCompile(`msg="balancer: done".*`)

// produceFor produces 1 KiB records with acks=all to topic for d, or
// until bytes were acknowledged, and returns how many were.
func produceFor(t *testing.T, addrs []string, topic string, d time.Duration, bytes int64) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordDeliveryTimeout(2*time.Minute), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if d > 0 {
		time.AfterFunc(d, cancel)
	}
	var acked atomic.Int64
	var failed atomic.Value
	value := make([]byte, 1024)
	rand.Read(value) // what is on disk is what was produced
	for ctx.Err() == nil && (bytes == 0 || acked.Load()<<10 < bytes) {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err == nil {
				acked.Add(1)
			} else if ctx.Err() == nil {
				failed.Store(fmt.Errorf("produce: %w", err))
			}
		})
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err)
		}
	}
	n := acked.Load()
	if d == 0 {
		cl.Flush(context.Background())
		n = acked.Load()
	}
	return n
}
