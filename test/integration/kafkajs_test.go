package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkajs is the Node.js client family: test/kafkajs holds a script and a
// package.json pinning kafkajs; .ci/run installs it with npm ci. Without
// node or the installed package these tests skip.

const (
	kafkajsPlain      = 300 // records roundtrip.js produces with a plain producer
	kafkajsIdempotent = 100 // then with an idempotent one
)

// kafkajsDir returns test/kafkajs, skipping the test if node or the
// installed kafkajs package is missing.
func kafkajsDir(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; kafkajs tests skipped")
	}
	// go test runs in the package directory, test/integration.
	dir, err = filepath.Abs(filepath.Join("..", "kafkajs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "kafkajs", "package.json")); err != nil {
		t.Skipf("kafkajs not installed (npm ci --prefix test/kafkajs); kafkajs tests skipped: %v", err)
	}
	return node, dir
}

// jsRecord is one line of roundtrip.js's output; encoding/json decodes the
// base64 keys and values into bytes.
type jsRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       []byte `json:"key"`
	Value     []byte `json:"value"`
	Headers   []struct {
		Key   string `json:"key"`
		Value []byte `json:"value"`
	} `json:"headers"`
}

func (r jsRecord) record() *kgo.Record {
	kr := &kgo.Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}

// runRoundtrip runs roundtrip.js with args and returns the records it
// printed. The process is killed if it outlives the timeout.
func runRoundtrip(t *testing.T, args ...string) []*kgo.Record {
	t.Helper()
	node, dir := kafkajsDir(t)
	ctx := testCtx(t, 90*time.Second)
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "roundtrip.js")}, args...)...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if errb.Len() > 0 {
		t.Logf("roundtrip.js %v stderr:\n%s", args, errb.String())
	}
	if err != nil {
		t.Fatalf("roundtrip.js %v after %v: %v (ctx: %v)", args, time.Since(start).Round(time.Millisecond), err, ctx.Err())
	}
	var rs []*kgo.Record
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r jsRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("roundtrip.js printed %q: %v", sc.Text(), err)
		}
		rs = append(rs, r.record())
	}
	return rs
}

// kafkajsRecord mirrors recordFor in roundtrip.js: record i as produced by
// producer ("plain" or "idempotent").
func kafkajsRecord(i int, producer string) *kgo.Record {
	tail := make([]byte, i%50)
	for j := range tail {
		tail[j] = byte((i + j) % 256)
	}
	return &kgo.Record{
		Key:   []byte(fmt.Sprintf("key-%03d-\u00fc", i)),
		Value: append([]byte(fmt.Sprintf("value-%03d-", i)), tail...),
		Headers: []kgo.RecordHeader{
			{Key: "seq", Value: []byte(fmt.Sprint(i))},
			{Key: "bin", Value: []byte{byte(i % 256), 0, byte(255 - i%256)}},
			{Key: "tag", Value: []byte("a")},
			{Key: "tag", Value: []byte("b")},
			{Key: "producer", Value: []byte(producer)},
		},
	}
}

// checkReadOnce asserts that got holds each record of want exactly once
// (matched by key; keys are unique), byte for byte, and that offsets rise
// within each partition.
func checkReadOnce(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	byKey := map[string]*kgo.Record{}
	for _, w := range want {
		byKey[string(w.Key)] = w
	}
	seen := map[string]bool{}
	last := map[int32]int64{}
	for _, g := range got {
		w, ok := byKey[string(g.Key)]
		if !ok {
			t.Fatalf("read unexpected record key %q at %d/%d", g.Key, g.Partition, g.Offset)
		}
		if seen[string(g.Key)] {
			t.Fatalf("read key %q twice (again at %d/%d)", g.Key, g.Partition, g.Offset)
		}
		seen[string(g.Key)] = true
		if d := recordDiff(w, g); d != "" {
			t.Fatalf("record %q at %d/%d: %s", g.Key, g.Partition, g.Offset, d)
		}
		if l, ok := last[g.Partition]; ok && g.Offset <= l {
			t.Fatalf("partition %d: offset %d read after %d", g.Partition, g.Offset, l)
		}
		last[g.Partition] = g.Offset
	}
	if len(seen) != len(want) {
		t.Fatalf("read %d of %d records", len(seen), len(want))
	}
}

// checkCommittedAtEnd asserts the group's committed offsets equal the log
// end offsets of every non-empty partition of topic.
func checkCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	committed, err := adm.FetchOffsets(testCtx(t, 15*time.Second), group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	for p, end := range endOffsets(t, adm, topic) {
		c, ok := committed.Lookup(topic, p)
		if end > 0 && (!ok || c.At != end) {
			t.Fatalf("group %s partition %d: committed %+v (found %v), log end %d", group, p, c.At, ok, end)
		}
	}
}

// TestKafkajsProduceConsumeGroup drives Ferry with kafkajs: a plain producer
// (one of its sends gzip-compressed) and an idempotent producer write keyed
// records with headers to three partitions; a kafkajs group consumer reads
// them from the beginning exactly once, byte for byte, and its auto-commits
// reach the log end; a second consumer run in the group reads only what was
// produced since.
func TestKafkajsProduceConsumeGroup(t *testing.T) {
	kafkajsDir(t)
	srv, _ := startGroupBroker(t, t.TempDir())
	topic := topicName(t)
	const group = "kafkajs-group"
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(cl)
	createTopic(t, adm, topic, 3)

	var want []*kgo.Record
	for i := 0; i < kafkajsPlain+kafkajsIdempotent; i++ {
		producer := "plain"
		if i >= kafkajsPlain {
			producer = "idempotent"
		}
		want = append(want, kafkajsRecord(i, producer))
	}
	got := runRoundtrip(t, srv.Addr(), topic, group)
	checkReadOnce(t, want, got)
	parts := map[int32]bool{}
	for _, r := range got {
		parts[r.Partition] = true
	}
	if len(parts) != 3 {
		t.Fatalf("kafkajs's partitioner used partitions %v, want all 3", parts)
	}
	checkCommittedAtEnd(t, adm, group, topic)

	// franz-go reads the same log: the idempotent producer's batches carry a
	// producer ID, the plain producer's none.
	ends := endOffsets(t, adm, topic)
	for _, r := range consumeN(t, srv.Addr(), allFrom(3, kgo.NewOffset().AtStart()), topic, len(want)) {
		idempotent := string(r.Headers[len(r.Headers)-1].Value) == "idempotent"
		if idempotent != (r.ProducerID >= 0) {
			t.Fatalf("record %q at %d/%d: producer ID %d", r.Key, r.Partition, r.Offset, r.ProducerID)
		}
	}

	// Ten more from franz-go; a new kafkajs consumer in the group resumes
	// after the commits and reads exactly those. franz-go's default codec,
	// snappy, is one kafkajs cannot decode without a plugin (the broker
	// serves batches as they were written), so these are gzip.
	var more []*kgo.Record
	for i := 0; i < 10; i++ {
		more = append(more, &kgo.Record{
			Key:     []byte(fmt.Sprintf("franz-%d", i)),
			Value:   []byte{byte(i), 0, 0xff, 'v'},
			Headers: []kgo.RecordHeader{{Key: "from", Value: []byte("franz-go")}},
		})
	}
	gz := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	produceSync(t, gz, more...)
	got = runRoundtrip(t, srv.Addr(), topic, group, "consume", fmt.Sprint(len(more)))
	checkReadOnce(t, more, got)
	for _, r := range got {
		if r.Offset < ends[r.Partition] {
			t.Fatalf("second run read %q at %d/%d, below the first run's end %d", r.Key, r.Partition, r.Offset, ends[r.Partition])
		}
	}
	checkCommittedAtEnd(t, adm, group, topic)
}
