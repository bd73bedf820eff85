package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scrape GETs /metrics of a ferry process and parses it with the
// Prometheus text parser.
func scrape(t testing.TB, httpAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue sums the samples of name whose labels include want (a
// histogram's sample count, for histograms); found is false when none
// matches.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, found bool) {
	fam, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

func mustMetric(t testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, want)
	if !ok {
		t.Fatalf("no %s%v in /metrics", name, want)
	}
	return v
}

func httpStatus(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsAfterAWorkload: after a known workload against a real ferry
// process, /metrics (parsed with Prometheus' own parser) says what
// happened: records and bytes in per partition equal what was produced,
// records out what was consumed, a group's lag is the high watermark minus
// its commit, the fsync histogram grows with produces under
// flush.policy=always, requests and their errors are counted by API.
func TestMetricsAfterAWorkload(t *testing.T) {
	proc := startFerry(t, t.TempDir())
	h := proc.httpAddr()
	if h == "" {
		t.Fatalf("no http address in the log\n%s", proc.log())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := httpStatus(t, "http://"+h+path); code != http.StatusOK {
			t.Fatalf("%s: %d after start", path, code)
		}
	}
	topic := topicName(t)
	adm := newAdmin(t, proc.addr)
	createTopic(t, adm, topic, 2)
	before := scrape(t, h)
	fsyncsBefore := mustMetric(t, before, "ferry_log_fsync_duration_seconds", nil)

	const perPartition = 30
	cl := newClient(t, proc.addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var produced [2]int
	for i := range perPartition {
		for p := range int32(2) {
			// One record per request: batch sizes are then known.
			produceSync(t, cl, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("value-%d-%d", p, i))})
			produced[p]++
		}
	}

	// A group commits offset 10 on partition 0 and nothing on 1.
	const group = "metrics-lag"
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(testCtx(t, 15*time.Second), group, offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	consumed := consumeN(t, proc.addr, map[int32]kgo.Offset{1: kgo.NewOffset().AtStart()}, topic, perPartition)

	// A produce to a topic that does not exist (auto-create is off in the
	// harness) is answered with an error code.
	missing := newClient(t, proc.addr, kgo.RecordRetries(0), kgo.RetryTimeout(time.Second), kgo.MetadataMinAge(10*time.Millisecond))
	_ = missing.ProduceSync(testCtx(t, 10*time.Second), &kgo.Record{Topic: "no-such-topic", Value: []byte("x")})

	// One transaction committed, one aborted, on another topic.
	txnTopic := topicName(t)
	createTopic(t, adm, txnTopic, 1)
	txc := newClient(t, proc.addr, kgo.TransactionalID("metrics-txn"), kgo.DefaultProduceTopic(txnTopic))
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := txc.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produceSync(t, txc, &kgo.Record{Value: []byte("t")})
		if err := txc.EndTransaction(testCtx(t, 15*time.Second), commit); err != nil {
			t.Fatal(err)
		}
	}

	fams := scrape(t, h)
	for outcome, want := range map[string]float64{"commit": 1, "abort": 1} {
		if got := mustMetric(t, fams, "ferry_txn_ended_total", map[string]string{"outcome": outcome}); got != want {
			t.Errorf("transactions ended with %s: %v, want %v", outcome, got, want)
		}
	}
	for p := range int32(2) {
		labels := map[string]string{"topic": topic, "partition": fmt.Sprint(p)}
		if got := mustMetric(t, fams, "ferry_partition_records_in_total", labels); got != float64(produced[p]) {
			t.Errorf("partition %d: records in %v, produced %d", p, got, produced[p])
		}
		if got := mustMetric(t, fams, "ferry_partition_log_end_offset", labels); got != float64(produced[p]) {
			t.Errorf("partition %d: log end offset %v, want %d", p, got, produced[p])
		}
		if got := mustMetric(t, fams, "ferry_partition_bytes_in_total", labels); got < float64(produced[p]*61) {
			t.Errorf("partition %d: bytes in %v, less than %d batch headers", p, got, produced[p])
		}
		if got := mustMetric(t, fams, "ferry_partition_size_bytes", labels); got != mustMetric(t, fams, "ferry_partition_bytes_in_total", labels) {
			t.Errorf("partition %d: size on disk %v differs from bytes in (one batch per produce, nothing deleted)", p, got)
		}
	}
	if got := mustMetric(t, fams, "ferry_partition_records_out_total", map[string]string{"topic": topic, "partition": "1"}); got != float64(len(consumed)) {
		t.Errorf("records out of partition 1: %v, consumed %d", got, len(consumed))
	}
	if got := mustMetric(t, fams, "ferry_partition_records_out_total", map[string]string{"topic": topic, "partition": "0"}); got != 0 {
		t.Errorf("records out of partition 0: %v, nothing consumed", got)
	}
	if got := mustMetric(t, fams, "ferry_group_lag", map[string]string{"group": group, "topic": topic, "partition": "0"}); got != float64(produced[0]-10) {
		t.Errorf("lag of %s on partition 0: %v, want %d", group, got, produced[0]-10)
	}
	if _, ok := metricValue(fams, "ferry_group_lag", map[string]string{"group": group, "partition": "1"}); ok {
		t.Errorf("lag reported for a partition the group never committed")
	}
	if got := mustMetric(t, fams, "ferry_group_state", map[string]string{"group": group, "state": "Empty"}); got != 1 {
		t.Errorf("group state Empty = %v", got)
	}
	if got := mustMetric(t, fams, "ferry_log_fsync_duration_seconds", nil); got < fsyncsBefore+2*perPartition {
		t.Errorf("fsync histogram count %v after %d acknowledged produces under flush.policy=always, was %v", got, 2*perPartition, fsyncsBefore)
	}
	if got := mustMetric(t, fams, "ferry_log_group_commit_batches", nil); got < 2*perPartition {
		t.Errorf("group commits counted %v, want at least %d", got, 2*perPartition)
	}
	if got := mustMetric(t, fams, "ferry_kafka_requests_total", map[string]string{"api": "Produce"}); got < 2*perPartition {
		t.Errorf("Produce requests %v, want at least %d", got, 2*perPartition)
	}
	if got := mustMetric(t, fams, "ferry_kafka_request_duration_seconds", map[string]string{"api": "Produce"}); got < 2*perPartition {
		t.Errorf("Produce latency observations %v, want at least %d", got, 2*perPartition)
	}
	if got := mustMetric(t, fams, "ferry_kafka_request_errors_total", map[string]string{"api": "Metadata", "error": "UNKNOWN_TOPIC_OR_PARTITION"}); got < 1 {
		t.Errorf("Metadata UNKNOWN_TOPIC_OR_PARTITION errors %v, want at least 1", got)
	}
	if got := mustMetric(t, fams, "ferry_kafka_connections", nil); got < 1 {
		t.Errorf("connections %v with clients open", got)
	}
	for _, name := range []string{"ferry_ready", "ferry_cluster_active_controller"} {
		if got := mustMetric(t, fams, name, nil); got != 1 {
			t.Errorf("%s = %v, want 1", name, got)
		}
	}
	if t.Failed() {
		t.Logf("ferry log:\n%s", proc.log())
	}
}

// TestMetricsHTTPAddrTaken: an --http-addr another process holds stops
// start-up with an error naming the flag, before the broker opens.
func TestMetricsHTTPAddrTaken(t *testing.T) {
	first := startFerry(t, t.TempDir())
	_, err := tryStartFerry(t, t.TempDir(), "--http-addr", first.httpAddr())
	if err == nil {
		t.Fatal("second ferry started on a taken --http-addr")
	}
	if !strings.Contains(err.Error(), "--http-addr") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error does not say which address is taken and how to fix it:\n%v", err)
	}
}

// TestMetricsHTTPOff: --http-addr off (what FERRY_HTTP_ADDR can say; an
// empty variable is ignored) starts no HTTP listener.
func TestMetricsHTTPOff(t *testing.T) {
	proc := startFerry(t, t.TempDir(), "--http-addr", "off")
	if h := proc.httpAddr(); h != "" {
		t.Fatalf("HTTP listener on %s with --http-addr off", h)
	}
	if !strings.Contains(proc.log(), `http="" `) && !strings.Contains(proc.log(), "http= ") {
		t.Fatalf("serving line does not show the HTTP listener off:\n%s", proc.log())
	}
}
