package main

import (
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicLifecycle(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	b := []string{"--brokers", brokers}

	out := mustRun(t, runTopic, "", append([]string{"create", topic, "--partitions", "3", "--config", "retention.ms=3600000"}, b...)...)
	if want := "created topic " + topic + " with 3 partition(s), replication factor 1\n"; out != want {
		t.Fatalf("create printed %q, want %q", out, want)
	}

	// Creating it again fails and says why.
	if _, _, err := runCmd(t, runTopic, "", append([]string{"create", topic}, b...)...); err == nil || !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("second create: want TOPIC_ALREADY_EXISTS, got %v", err)
	}

	out = mustRun(t, runTopic, "", append([]string{"list"}, b...)...)
	if !regexp.MustCompile(`(?m)^TOPIC\s+PARTITIONS\s+REPLICATION$`).MatchString(out) {
		t.Fatalf("list has no header:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(topic) + `\s+3\s+1$`).MatchString(out) {
		t.Fatalf("list does not show %s with 3 partitions:\n%s", topic, out)
	}

	// Some records in partition 1 so the end offsets show.
	mustRun(t, runProduce, "a\nb\n", append([]string{"--topic", topic, "--partition", "1"}, b...)...)

	out = mustRun(t, runTopic, "", append([]string{"describe", topic}, b...)...)
	for _, re := range []string{
		`(?m)^Topic: ` + regexp.QuoteMeta(topic) + `  Partitions: 3  Replication: 1`,
		`(?m)^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+START\s+END$`,
		`(?m)^0\s+\d+\s+\d+\s+\d+\s+0\s+0$`,
		`(?m)^1\s+\d+\s+\d+\s+\d+\s+0\s+2$`,
		`(?m)^2\s+\d+\s+\d+\s+\d+\s+0\s+0$`,
		`(?m)^retention\.ms\s+3600000$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe output does not match %s:\n%s", re, out)
		}
	}

	out = mustRun(t, runTopic, "", append([]string{"alter", topic, "--partitions", "5", "--config", "cleanup.policy=compact", "--delete-config", "retention.ms"}, b...)...)
	for _, want := range []string{"now has 5 partitions (was 3)", "set cleanup.policy=compact", "removed retention.ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("alter output %q lacks %q", out, want)
		}
	}
	out = mustRun(t, runTopic, "", append([]string{"describe", topic}, b...)...)
	if !strings.Contains(out, "Partitions: 5") || !regexp.MustCompile(`(?m)^4\s+\d+`).MatchString(out) {
		t.Errorf("describe after alter does not show 5 partitions:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^cleanup\.policy\s+compact$`).MatchString(out) || strings.Contains(out, "retention.ms") {
		t.Errorf("describe after alter shows wrong configs:\n%s", out)
	}

	// Shrinking is refused before asking the broker.
	if _, _, err := runCmd(t, runTopic, "", append([]string{"alter", topic, "--partitions", "2"}, b...)...); err == nil || !strings.Contains(err.Error(), "can only be added") {
		t.Fatalf("shrinking: want 'can only be added', got %v", err)
	}

	other := testTopic(t)
	mustRun(t, runTopic, "", append([]string{"create", other}, b...)...)
	out = mustRun(t, runTopic, "", append([]string{"delete", topic, other}, b...)...)
	if want := "deleted topic " + topic + "\ndeleted topic " + other + "\n"; out != want {
		t.Fatalf("delete printed %q, want %q", out, want)
	}
	out = mustRun(t, runTopic, "", append([]string{"list"}, b...)...)
	if strings.Contains(out, topic) || strings.Contains(out, other) {
		t.Fatalf("deleted topics still listed:\n%s", out)
	}
	if _, _, err := runCmd(t, runTopic, "", append([]string{"describe", topic}, b...)...); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("describe deleted topic: want 'does not exist', got %v", err)
	}
	if _, _, err := runCmd(t, runTopic, "", append([]string{"delete", topic}, b...)...); err == nil || !strings.Contains(err.Error(), "could not delete 1 of 1") {
		t.Fatalf("delete missing topic: want an error, got %v", err)
	}
}

func TestTopicUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing action"},
		{[]string{"frob"}, `unknown action "frob"`},
		{[]string{"create"}, "want exactly one topic name"},
		{[]string{"create", "x", "--partitions", "0"}, "at least 1 partition"},
		{[]string{"create", "x", "--config", "novalue"}, "not key=value"},
		{[]string{"alter", "x"}, "nothing to alter"},
		{[]string{"delete"}, "at least one topic"},
	} {
		args := tc.args
		if len(args) > 0 {
			args = append(args, "--brokers", "127.0.0.1:1")
		}
		_, _, err := runCmd(t, runTopic, "", args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("topic %q: want error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

// TestTopicCreateWaitsForLargeTopics: the broker answers CreateTopics only
// once every partition is open, so `topic create` asks for (and waits) a
// timeout that grows with the partition count instead of the fixed admin
// timeout, which a 3000-partition create outlasted.
func TestTopicCreateWaitsForLargeTopics(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent atomic.Int32
	c.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		sent.Store(req.(*kmsg.CreateTopicsRequest).TimeoutMillis)
		return nil, nil, false
	})
	t.Setenv(timeoutEnv, "")
	brokers := strings.Join(c.ListenAddrs(), ",")
	mustRun(t, runTopic, "", "create", testTopic(t), "--partitions", "3000", "--brokers", brokers)
	// The broker takes seconds per thousand partitions on a busy disk.
	if got, least := time.Duration(sent.Load())*time.Millisecond, defaultTimeout+3000*10*time.Millisecond; got < least {
		t.Fatalf("create of 3000 partitions sent timeout_ms %v, want at least %v", got, least)
	}
	// A --timeout the user gives is theirs.
	mustRun(t, runTopic, "", "create", testTopic(t), "--partitions", "3000", "--timeout", "7s", "--brokers", brokers)
	if got := time.Duration(sent.Load()) * time.Millisecond; got != 7*time.Second {
		t.Fatalf("create with --timeout 7s sent timeout_ms %v", got)
	}
}
