package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBenchProduceConsume(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	b := []string{"--brokers", brokers}

	// The topic does not exist: without --partitions that is an error.
	if _, _, err := runCmd(t, runBench, "", append([]string{"produce", "--topic", topic, "--records", "10"}, b...)...); err == nil ||
		!strings.Contains(err.Error(), "--partitions P to create it") {
		t.Fatalf("want a missing-topic error, got %v", err)
	}

	out, errOut, err := runCmd(t, runBench, "", append([]string{"produce", "--topic", topic, "--records", "5000",
		"--record-size", "64", "--producers", "3", "--partitions", "4"}, b...)...)
	if err != nil {
		t.Fatalf("bench produce: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "created topic "+topic+" with 4 partition(s)") {
		t.Errorf("stderr does not report the topic creation: %q", errOut)
	}
	re := regexp.MustCompile(`^produce: 5000 records in [0-9.]+s: [0-9]+ records/s, [0-9.]+ MB/s; latency p50 [0-9.]+ms p99 [0-9.]+ms p99\.9 [0-9.]+ms max [0-9.]+ms\n$`)
	if !re.MatchString(out) {
		t.Fatalf("summary %q does not match %s", out, re)
	}

	// A second run, as JSON, one record at a time.
	out = mustRun(t, runBench, "", append([]string{"produce", "--topic", topic, "--records", "100",
		"--record-size", "10", "--one-at-a-time", "--acks", "1", "--json"}, b...)...)
	var s benchSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if s.Op != "produce" || s.Records != 100 || s.Bytes != 1000 || s.Errors != 0 || s.Latency == nil ||
		s.Latency.P50 <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max || s.RecordsPerSec <= 0 {
		t.Fatalf("unexpected summary: %+v", s)
	}

	// Everything there is: 5100 records, 5000*64 + 100*10 bytes.
	out = mustRun(t, runBench, "", append([]string{"consume", "--topic", topic, "--json"}, b...)...)
	s = benchSummary{}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if s.Op != "consume" || s.Records != 5100 || s.Bytes != 5000*64+100*10 || s.Latency != nil {
		t.Fatalf("unexpected consume summary: %+v", s)
	}

	out = mustRun(t, runBench, "", append([]string{"consume", "--topic", topic, "--records", "1234"}, b...)...)
	if !regexp.MustCompile(`^consume: 1234 records in [0-9.]+s: [0-9]+ records/s, [0-9.]+ MB/s\n$`).MatchString(out) {
		t.Fatalf("consume summary %q", out)
	}
}

func TestBenchProduceDuration(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 2)
	start := time.Now()
	out := mustRun(t, runBench, "", "produce", "--topic", topic, "--duration", "300ms", "--json", "--brokers", brokers)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a 300ms run took %s", took)
	}
	var s benchSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Records <= 0 || s.Seconds < 0.3 || s.Bytes != s.Records*100 {
		t.Fatalf("unexpected summary: %+v", s)
	}
	// The broker holds exactly what the summary reports.
	out = mustRun(t, runBench, "", "consume", "--topic", topic, "--json", "--brokers", brokers)
	var c benchSummary
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Records != s.Records {
		t.Fatalf("produce reported %d records, consume found %d", s.Records, c.Records)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "missing mode"},
		{[]string{"frob"}, `unknown mode "frob"`},
		{[]string{"produce"}, "--topic is required"},
		{[]string{"produce", "--topic", "t", "--records", "5", "--duration", "1s"}, "not both"},
		{[]string{"produce", "--topic", "t", "--records", "0"}, "--records 0 is not valid"},
		{[]string{"produce", "--topic", "t", "--producers", "0"}, "--producers 0 is not valid"},
		{[]string{"produce", "--topic", "t", "--acks", "x"}, `--acks "x" is not valid`},
		{[]string{"consume"}, "--topic is required"},
		{[]string{"consume", "--topic", "t", "--consumers", "2"}, "--consumers needs --group"},
		{[]string{"consume", "--topic", "t", "--group", "g"}, "--group needs --records"},
		{[]string{"consume", "--topic", "t", "--group", "g", "--records", "5", "--consumers", "0"}, "--consumers 0 is not valid"},
		{[]string{"produce", "--topic", "t", "--txn-records", "5"}, "--txn-records needs --transactional"},
		{[]string{"produce", "--topic", "t", "--transactional", "--txn-records", "0"}, "--txn-records 0 is not valid"},
		{[]string{"produce", "--topic", "t", "--transactional", "--no-idempotence"}, "drop --no-idempotence"},
		{[]string{"produce", "--topic", "t", "--transactional", "--acks", "1"}, "--transactional needs --acks all"},
	} {
		args := tc.args
		if len(args) > 0 {
			args = append(args, "--brokers", "127.0.0.1:1")
		}
		_, _, err := runCmd(t, runBench, "", args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %q: want error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

func TestHistogram(t *testing.T) {
	// Bucket round trip: every value maps to a bucket whose middle is
	// within 1/128 of it.
	for _, ns := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456, 1e9, 1e12, 1 << 62} {
		got := histValue(histBucket(ns))
		if diff := float64(got) - float64(ns); diff < 0 && -diff > float64(ns)/128+1 || diff > float64(ns)/128+1 {
			t.Errorf("value %d reads back as %d", ns, got)
		}
	}
	h := new(histogram)
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	// 1..10000 µs in random order: quantiles are known.
	for _, i := range rand.Perm(10000) {
		h.record(time.Duration(i+1) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.quantile(tc.q)
		if d := got - tc.want; d < -tc.want/100 || d > tc.want/100 {
			t.Errorf("q%v = %s, want about %s", tc.q, got, tc.want)
		}
	}
	if h.max() != 10*time.Millisecond || h.count() != 10000 {
		t.Errorf("max %s count %d", h.max(), h.count())
	}
	var m histogram
	m.merge(h)
	m.merge(h)
	if m.count() != 20000 || m.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merge: count %d median %s", m.count(), m.quantile(0.5))
	}
}

func benchJSON(t *testing.T, args ...string) benchSummary {
	t.Helper()
	out := mustRun(t, runBench, "", append(args, "--json")...)
	var s benchSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	return s
}

// readTopic reads topic from the start with the given isolation level
// until it has want records, then a little longer to catch extras.
func readTopic(t *testing.T, brokers, topic string, want int, iso kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(15 * time.Second)
	extra := time.Time{}
	for time.Now().Before(deadline) && (extra.IsZero() || time.Now().Before(extra)) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		got = append(got, fs.Records()...)
		if len(got) >= want && extra.IsZero() {
			extra = time.Now().Add(500 * time.Millisecond)
		}
	}
	return got
}

func TestBenchConsumeGroup(t *testing.T) {
	groupBrokers(t, func(t *testing.T, brokers string) {
		topic := testTopic(t)
		group := topic + "-g"
		b := []string{"--brokers", brokers, "--topic", topic}
		p := benchJSON(t, append([]string{"produce", "--records", "20000", "--record-size", "50", "--partitions", "6"}, b...)...)
		if p.Records != 20000 || p.Errors != 0 {
			t.Fatalf("produce: %+v", p)
		}

		s := benchJSON(t, append([]string{"consume", "--group", group, "--consumers", "2", "--records", "20000"}, b...)...)
		if s.Op != "consume" || s.Records != 20000 || s.Bytes != 20000*50 || s.RecordsPerSec <= 0 ||
			s.Config["group"] != group || s.Config["consumers"] != 2.0 {
			t.Fatalf("unexpected summary: %+v", s)
		}
		// Both members normally get partitions; one may finish everything
		// before the other's first fetch, but not both be idle.
		if s.MembersIdle > 1 || (s.MembersIdle == 0) != (s.GroupReadySeconds != nil) {
			t.Fatalf("members idle %d, ready %v", s.MembersIdle, s.GroupReadySeconds)
		}
		if r := s.GroupReadySeconds; r != nil && (*r <= 0 || *r > s.Seconds || s.ReadyRecordsPerSec < 0) {
			t.Fatalf("group ready after %vs of a %vs run, %v records/s from then", *r, s.Seconds, s.ReadyRecordsPerSec)
		}
		// The members committed on the way out: the group is at the end of
		// every partition.
		var sum int64
		for p := range int32(6) {
			c := committed(t, brokers, group, topic, p)
			if c < 0 {
				t.Fatalf("partition %d: nothing committed", p)
			}
			sum += c
		}
		if sum != 20000 {
			t.Fatalf("committed offsets add up to %d, want 20000", sum)
		}
		// The group is no longer fresh: a second run would not start at
		// the beginning.
		if _, _, err := runCmd(t, runBench, "", append([]string{"consume", "--group", group, "--records", "1"}, b...)...); err == nil ||
			!strings.Contains(err.Error(), "already has committed offsets") {
			t.Fatalf("reusing the group: want an error, got %v", err)
		}

		// The text summary: one line.
		out := mustRun(t, runBench, "", append([]string{"consume", "--group", group + "-2", "--consumers", "3", "--records", "500"}, b...)...)
		if !regexp.MustCompile(`^consume: [0-9]+ records in [0-9.]+s: [0-9]+ records/s, [0-9.]+ MB/s(; every member fetching after [0-9.]+s, [0-9]+ records/s from then)?(; [0-9]+ member\(s\) got no records)?(; [0-9]+ duplicate\(s\))?\n$`).MatchString(out) {
			t.Fatalf("summary %q", out)
		}
	})
}

func TestBenchProduceTransactional(t *testing.T) {
	groupBrokers(t, func(t *testing.T, brokers string) {
		topic := testTopic(t)
		b := []string{"--brokers", brokers, "--topic", topic}
		s := benchJSON(t, append([]string{"produce", "--transactional", "--txn-records", "10", "--records", "1000",
			"--producers", "2", "--record-size", "20", "--partitions", "3"}, b...)...)
		if s.Records != 1000 || s.Bytes != 20000 || s.Errors != 0 || s.Transactions != 100 || s.TxnPerSec <= 0 ||
			s.Config["transactional"] != true || s.Config["txn_records"] != 10.0 {
			t.Fatalf("unexpected summary: %+v", s)
		}
		if l := s.CommitLatency; l == nil || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > s.Seconds*1000 {
			t.Fatalf("commit latency %+v of a %vs run", l, s.Seconds)
		}
		// A quota that is not a multiple: the last transaction is smaller.
		s = benchJSON(t, append([]string{"produce", "--transactional", "--txn-records", "10", "--records", "25", "--record-size", "20"}, b...)...)
		if s.Records != 25 || s.Transactions != 3 {
			t.Fatalf("25 records in transactions of 10: %+v", s)
		}

		// All of it is committed: a read_committed consumer sees every
		// record, from transactional producers.
		rs := readTopic(t, brokers, topic, 1025, kgo.ReadCommitted())
		if len(rs) != 1025 {
			t.Fatalf("read_committed consumer got %d records, want 1025", len(rs))
		}
		ids := map[int64]bool{}
		for _, r := range rs {
			if r.ProducerID < 0 || len(r.Value) != 20 {
				t.Fatalf("record %+v", r)
			}
			ids[r.ProducerID] = true
		}
		if len(ids) != 3 {
			t.Fatalf("records from %d producer ids, want 3 (2 + 1 producers)", len(ids))
		}
		// bench consume skips the transaction markers.
		c := benchJSON(t, append([]string{"consume"}, b...)...)
		if c.Records != 1025 {
			t.Fatalf("bench consume read %d records, want 1025", c.Records)
		}

		out := mustRun(t, runBench, "", append([]string{"produce", "--transactional", "--txn-records", "5", "--records", "50"}, b...)...)
		if !regexp.MustCompile(`^produce: 50 records in [0-9.]+s: [0-9]+ records/s, [0-9.]+ MB/s; latency .*; 10 transactions: [0-9]+ txn/s, commit p50 [0-9.]+ms p99 [0-9.]+ms max [0-9.]+ms\n$`).MatchString(out) {
			t.Fatalf("summary %q", out)
		}
	})
}

func TestBenchProduceNoIdempotence(t *testing.T) {
	brokers := startFerry(t)
	for _, tc := range []struct {
		flags      []string
		idempotent bool
	}{{nil, true}, {[]string{"--no-idempotence"}, false}} {
		topic := testTopic(t)
		args := append([]string{"produce", "--brokers", brokers, "--topic", topic, "--partitions", "2", "--records", "3000", "--producers", "2"}, tc.flags...)
		s := benchJSON(t, args...)
		if s.Records != 3000 || s.Errors != 0 || s.Config["idempotent"] != tc.idempotent || s.Transactions != 0 || s.CommitLatency != nil {
			t.Fatalf("%v: unexpected summary %+v", tc.flags, s)
		}
		// Plain producers write batches without a producer id.
		rs := readTopic(t, brokers, topic, 3000, kgo.ReadUncommitted())
		if len(rs) != 3000 {
			t.Fatalf("%v: read %d records", tc.flags, len(rs))
		}
		for _, r := range rs {
			if (r.ProducerID >= 0) != tc.idempotent {
				t.Fatalf("%v: record with producer id %d", tc.flags, r.ProducerID)
			}
		}
	}
}

// TestBenchProduceGivesUpOnSilentBroker: a broker that stops answering
// produces (it died mid-request) must not keep `bench produce --duration`
// waiting for ever for records franz-go never times out.
func TestBenchProduceGivesUpOnSilentBroker(t *testing.T) {
	brokers, topic := silentProduceBroker(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := runCmd(t, runBench, "", "produce", "--topic", topic, "--duration", "300ms", "--timeout", "2s", "--brokers", brokers)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a hang detector, not a timing assertion
		t.Fatal("bench produce against a broker that never answers still running after a minute (--duration 300ms --timeout 2s)")
	}
	if err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("bench produce against a silent broker: err %v, want one saying the broker gave no answer", err)
	}
}
