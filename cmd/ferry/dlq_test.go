package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceDeadLetters writes dead letters for the given original topics
// ("" = no RETRY_TOPIC header) to topic.
func produceDeadLetters(t *testing.T, brokers, topic string, originals ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, orig := range originals {
		r := &kgo.Record{Topic: topic, Key: []byte("k" + string(rune('0'+i))), Value: []byte("body of " + orig)}
		r.Headers = []kgo.RecordHeader{{Key: "TAGS", Value: []byte("t1")}, {Key: "RECONSUME_TIME", Value: []byte("16")}}
		if orig != "" {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "RETRY_TOPIC", Value: []byte(orig)})
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll returns the records of topic, waiting up to a few seconds for want
// of them (or for more than want).
func readAll(t *testing.T, brokers, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil && len(out) <= want {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	return out
}

func TestDLQListShowRedrive(t *testing.T) {
	brokers := startTestCluster(t)
	group := testTopic(t)
	orders, payments := group+"-orders", group+"-payments"
	for _, topic := range []string{group + ".dlq", orders, payments} {
		createTopic(t, brokers, topic, 2)
	}
	produceDeadLetters(t, brokers, group+".dlq", orders, payments, orders)
	b := []string{"--brokers", brokers}

	out := mustRun(t, runDLQ, "", append([]string{"list"}, b...)...)
	if !strings.Contains(out, group+"  ") || !regexpLine(out, group+`\.dlq\s+2\s+3\s+3`) {
		t.Fatalf("list:\n%s", out)
	}
	out = mustRun(t, runDLQ, "", append([]string{"show", "%DLQ%" + group}, b...)...)
	if strings.Count(out, "\n") != 4 || !regexpLine(out, `\s`+orders+`\s+16\s+k0\s+body of `+orders) || strings.Count(out, payments) != 2 {
		t.Fatalf("show:\n%s", out)
	}

	out = mustRun(t, runDLQ, "", append([]string{"redrive", group, "--dry-run"}, b...)...)
	if !strings.Contains(out, "would redrive 3 dead letters") {
		t.Fatalf("dry run:\n%s", out)
	}
	if n := len(readAll(t, brokers, orders, 0)); n != 0 {
		t.Fatalf("dry run sent %d", n)
	}

	out = mustRun(t, runDLQ, "", append([]string{"redrive", group}, b...)...)
	if !strings.Contains(out, "redrove 3 dead letters") || !strings.Contains(out, "2 to "+orders) || !strings.Contains(out, "1 to "+payments) {
		t.Fatalf("redrive:\n%s", out)
	}
	got := readAll(t, brokers, orders, 2)
	if len(got) != 2 {
		t.Fatalf("%d records in %s, want 2", len(got), orders)
	}
	r := got[0]
	if string(r.Value) != "body of "+orders || header(r, "TAGS") != "t1" || header(r, "RETRY_TOPIC") != "" ||
		header(r, "RECONSUME_TIME") != "" || !strings.HasPrefix(header(r, "ferry-redriven-from"), group+".dlq/") {
		t.Fatalf("redriven record: key %q value %q headers %v", r.Key, r.Value, r.Headers)
	}

	// A second run sends nothing again; a new dead letter alone goes.
	out = mustRun(t, runDLQ, "", append([]string{"redrive", group}, b...)...)
	if !strings.Contains(out, "nothing to redrive") {
		t.Fatalf("second redrive:\n%s", out)
	}
	produceDeadLetters(t, brokers, group+".dlq", payments)
	out = mustRun(t, runDLQ, "", append([]string{"redrive", group}, b...)...)
	if !strings.Contains(out, "redrove 1 dead letters") {
		t.Fatalf("third redrive:\n%s", out)
	}
	if n := len(readAll(t, brokers, payments, 2)); n != 2 {
		t.Fatalf("%d records in %s, want 2", n, payments)
	}
	out = mustRun(t, runDLQ, "", append([]string{"list"}, b...)...)
	if !regexpLine(out, group+`\.dlq\s+2\s+4\s+0`) {
		t.Fatalf("list after redrive:\n%s", out)
	}
}

func TestDLQRedriveWithoutOriginalTopic(t *testing.T) {
	brokers := startTestCluster(t)
	group := testTopic(t)
	createTopic(t, brokers, group+".dlq", 1)
	produceDeadLetters(t, brokers, group+".dlq", "")
	_, _, err := runCmd(t, runDLQ, "", "redrive", group, "--brokers", brokers)
	if err == nil || !strings.Contains(err.Error(), "no RETRY_TOPIC header: give --to TOPIC") {
		t.Fatalf("redrive of a dead letter without RETRY_TOPIC: %v", err)
	}
	createTopic(t, brokers, group+"-elsewhere", 1)
	out := mustRun(t, runDLQ, "", "redrive", group+".dlq", "--to", group+"-elsewhere", "--brokers", brokers)
	if !strings.Contains(out, "redrove 1 dead letters") {
		t.Fatalf("redrive --to:\n%s", out)
	}
	for _, bad := range []string{"%DLQ%", "a|b"} {
		if _, _, err := runCmd(t, runDLQ, "", "show", bad, "--brokers", brokers); err == nil || !strings.Contains(err.Error(), "is not a consumer group") {
			t.Fatalf("show %q: %v", bad, err)
		}
	}
}

// regexpLine reports whether a line of out matches re.
func regexpLine(out, re string) bool {
	return regexp.MustCompile(`(?m)` + re).MatchString(out)
}
