package integration

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

var rocketServingRE = regexp.MustCompile(`msg="ferry is serving".* rocketmq=(\S+)`)

// sendResult is one measured run: messages acknowledged, elapsed time and
// per-send latencies.
type sendResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
}

func (r sendResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r sendResult) pct(p float64) time.Duration {
	slices.Sort(r.lat)
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// runSenders runs conc goroutines calling send in a loop for d and
// measures each call.
func runSenders(t *testing.T, conc int, d time.Duration, send func(i int) error) sendResult {
	t.Helper()
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for i := g; time.Now().Before(stop); i += conc {
				t0 := time.Now()
				if err := send(i); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return sendResult{n: len(all), elapsed: time.Since(start), lat: all}
}

// TestBenchRocketMQVersusKafka compares, against one `ferry serve`
// process (flush.policy=always, 4 partitions, 100-byte messages), the real
// RocketMQ Go client's sync send with franz-go's ProduceSync of one record
// per call, both with conc goroutines sharing one client, and franz-go's
// pipelined asynchronous produce as the Kafka client's natural mode. It
// prints a table for BENCHMARKS.md; it does not run unless
// RMQ_BENCH=1 (it takes about RUNS × 5 cases × BENCH_SECONDS).
//
//	RMQ_BENCH=1 RUNS=3 BENCH_SECONDS=5 go test -run TestBenchRocketMQVersusKafka -v -timeout 30m ./test/integration/
func TestBenchRocketMQVersusKafka(t *testing.T) {
	if os.Getenv("RMQ_BENCH") != "1" {
		t.Skip("set RMQ_BENCH=1 to run the RocketMQ versus Kafka produce comparison")
	}
	runs, _ := strconv.Atoi(os.Getenv("RUNS"))
	runs = max(runs, 1)
	secs, _ := strconv.Atoi(os.Getenv("BENCH_SECONDS"))
	d := time.Duration(max(secs, 1)) * time.Second
	rlog.SetLogLevel("error")

	proc := startFerry(t, t.TempDir(), "--rocketmq-addr", "127.0.0.1:0", "--num-partitions", "4", "--auto-create-topics=true")
	m := rocketServingRE.FindStringSubmatch(proc.log())
	if m == nil {
		t.Fatalf("no RocketMQ address in the log:\n%s", proc.log())
	}
	rocketAddr := strings.Trim(m[1], `"`)
	body := make([]byte, 100)

	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{rocketAddr})),
		producer.WithGroupName("bench"), producer.WithInstanceName("bench"), producer.WithRetry(0),
		producer.WithQueueSelector(producer.NewRoundRobinQueueSelector()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	cl := newClient(t, proc.addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.AllowAutoTopicCreation())
	ctx := context.Background()

	rocketSend := func(topic string) func(int) error {
		return func(int) error {
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, body))
			if err == nil && res.Status != primitive.SendOK {
				err = fmt.Errorf("send status %v", res.Status)
			}
			return err
		}
	}
	kafkaSend := func(topic string) func(int) error {
		return func(int) error {
			return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: body}).FirstErr()
		}
	}
	kafkaAsync := func(topic string) sendResult {
		var mu sync.Mutex
		var lat []time.Duration
		var firstErr error
		start := time.Now()
		for time.Since(start) < d {
			t0 := time.Now()
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: body}, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, time.Since(t0))
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		return sendResult{n: len(lat), elapsed: time.Since(start), lat: lat}
	}

	type bcase struct {
		name string
		run  func(topic string) sendResult
	}
	cases := []bcase{
		{"RocketMQ SendSync, 1 sender", func(tp string) sendResult { return runSenders(t, 1, d, rocketSend(tp)) }},
		{"Kafka ProduceSync, 1 sender", func(tp string) sendResult { return runSenders(t, 1, d, kafkaSend(tp)) }},
		{"RocketMQ SendSync, 32 senders", func(tp string) sendResult { return runSenders(t, 32, d, rocketSend(tp)) }},
		{"Kafka ProduceSync, 32 senders", func(tp string) sendResult { return runSenders(t, 32, d, kafkaSend(tp)) }},
		{"Kafka async produce (franz-go pipelining)", kafkaAsync},
	}
	results := make([][]sendResult, len(cases))
	for run := range runs {
		for i, c := range cases {
			topic := fmt.Sprintf("bench-%d-%d", i, run)
			// Route lookup, topic creation and connections before the clock runs.
			if err := rocketSend(topic)(0); err != nil {
				t.Fatal(err)
			}
			if err := kafkaSend(topic)(0); err != nil {
				t.Fatal(err)
			}
			r := c.run(topic)
			t.Logf("run %d %-42s %9.0f msg/s  p50 %v  p99 %v", run+1, c.name, r.rate(), r.pct(0.5), r.pct(0.99))
			results[i] = append(results[i], r)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "| case | msgs/s (median of %d) | p50 | p99 |\n|---|---|---|---|\n", runs)
	for i, c := range cases {
		rs := results[i]
		slices.SortFunc(rs, func(a, b sendResult) int { return int(a.rate() - b.rate()) })
		med := rs[len(rs)/2]
		fmt.Fprintf(&out, "| %s | %.0f | %v | %v |\n", c.name, med.rate(), med.pct(0.5).Round(10*time.Microsecond), med.pct(0.99).Round(10*time.Microsecond))
	}
	t.Log("\n" + out.String())
}
