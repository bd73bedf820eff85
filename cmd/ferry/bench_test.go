package main

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
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
