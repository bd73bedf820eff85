package integration

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat drives librdkafka, the third client family: .ci/run installs it
// from Debian's packages; without it these tests skip.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (apt-get install kcat); librdkafka tests skipped")
	}
	return p
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\nstderr: %s", args, err, errb.String())
	}
	return out.String()
}

// TestKcatProduceEveryCodec produces keyed records with headers from
// librdkafka with each compression codec and reads them back with
// franz-go, byte for byte and in order.
func TestKcatProduceEveryCodec(t *testing.T) {
	kcatPath(t)
	srv := startBroker(t)
	adm := kadm.NewClient(newClient(t, srv.Addr()))
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := topicName(t)
			if _, err := adm.CreateTopic(testCtx(t, 10*time.Second), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			var in strings.Builder
			const n = 200
			for i := 0; i < n; i++ {
				fmt.Fprintf(&in, "key-%d|value-%d-%s\n", i, i, strings.Repeat("x", i%50))
			}
			runKcat(t, in.String(), "-b", srv.Addr(), "-t", topic, "-P", "-K", "|", "-z", codec, "-H", "origin=kcat")

			cl := newClient(t, srv.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
			var got []*kgo.Record
			ctx := testCtx(t, 20*time.Second)
			for len(got) < n {
				fs := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("got %d of %d records: %v", len(got), n, err)
				}
				fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
				got = append(got, fs.Records()...)
			}
			for i, r := range got {
				wantV := fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%50))
				if string(r.Key) != fmt.Sprintf("key-%d", i) || string(r.Value) != wantV || r.Offset != int64(i) {
					t.Fatalf("record %d = %q=%q @%d", i, r.Key, r.Value, r.Offset)
				}
				if len(r.Headers) != 1 || r.Headers[0].Key != "origin" || string(r.Headers[0].Value) != "kcat" {
					t.Fatalf("record %d headers = %v", i, r.Headers)
				}
			}
		})
	}
}

// TestKcatConsumesFranzRecords has librdkafka read what franz-go wrote,
// across partitions, and list metadata.
func TestKcatConsumesFranzRecords(t *testing.T) {
	kcatPath(t)
	srv := startBroker(t)
	topic := topicName(t)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(testCtx(t, 10*time.Second), 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var recs []*kgo.Record
	for i := 0; i < 300; i++ {
		v := fmt.Sprintf("v%03d", i)
		want[fmt.Sprintf("%d:%s", i%3, v)] = true
		recs = append(recs, &kgo.Record{Partition: int32(i % 3), Value: []byte(v), Key: []byte(fmt.Sprintf("k%d", i))})
	}
	if err := cl.ProduceSync(testCtx(t, 20*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := runKcat(t, "", "-b", srv.Addr(), "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%p:%s\n")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("kcat read %d records, want %d:\n%s", len(lines), len(want), out)
	}
	lastByPartition := map[string]string{}
	for _, l := range lines {
		if !want[l] {
			t.Fatalf("kcat read unexpected record %q", l)
		}
		p, v, _ := strings.Cut(l, ":")
		if v <= lastByPartition[p] {
			t.Fatalf("partition %s out of order: %s after %s", p, v, lastByPartition[p])
		}
		lastByPartition[p] = v
	}
	meta := runKcat(t, "", "-b", srv.Addr(), "-L", "-t", topic)
	if !strings.Contains(meta, fmt.Sprintf("topic %q with 3 partitions", topic)) {
		t.Fatalf("kcat -L did not list the topic with 3 partitions:\n%s", meta)
	}
}

// TestKcatGroupResumesFromCommit consumes with librdkafka's balanced group
// consumer (kcat -G): it reads everything once, commits, a second member of
// the same group finds nothing new, and a third run reads exactly the
// records produced since.
func TestKcatGroupResumesFromCommit(t *testing.T) {
	kcatPath(t)
	srv, _ := startGroupBroker(t, t.TempDir())
	topic := topicName(t)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, 60*time.Second)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%03d", i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	readGroup := func() []string {
		out := runKcat(t, "", "-b", srv.Addr(), "-G", "kcat-group", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", topic)
		var vs []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" {
				vs = append(vs, l)
			}
		}
		sort.Strings(vs)
		return vs
	}
	want := func(from, to int) []string {
		var vs []string
		for i := from; i < to; i++ {
			vs = append(vs, fmt.Sprintf("v%03d", i))
		}
		return vs
	}

	produce(0, 60)
	if got := readGroup(); !slices.Equal(got, want(0, 60)) {
		t.Fatalf("first kcat -G run read %d records, want 60: %v", len(got), got)
	}
	committed, err := adm.FetchOffsets(ctx, "kcat-group")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		if c, ok := committed.Lookup(topic, e.Partition); e.Offset > 0 && (!ok || c.At != e.Offset) {
			t.Fatalf("partition %d: committed %+v, log end %d", e.Partition, c, e.Offset)
		}
	})
	if got := readGroup(); len(got) != 0 {
		t.Fatalf("second run re-read %d committed records: %v", len(got), got)
	}
	produce(60, 70)
	if got := readGroup(); !slices.Equal(got, want(60, 70)) {
		t.Fatalf("third run read %v, want v060..v069", got)
	}
}
