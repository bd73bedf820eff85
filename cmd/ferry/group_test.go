package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// startFerry starts an in-process Ferry broker with its data in a temporary
// directory and returns its address. Groups rebalance without the initial
// delay a production broker waits for.
func startFerry(t *testing.T) string {
	t.Helper()
	return startFerryWith(t, func(*config.Config) {})
}

// startFerryWith starts an in-process broker with configure applied to its
// config (a fault-injecting LogFS, say) and returns its address.
func startFerryWith(t *testing.T, configure func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.GroupInitialRebalanceDelay = 50 * time.Millisecond
	configure(&cfg)
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing ferry: %v", err)
		}
	})
	return srv.Addr()
}

// groupBrokers are the brokers the group tests run against: Ferry always,
// and the kfake cluster (or FERRY_TEST_BROKERS) too.
func groupBrokers(t *testing.T, fn func(t *testing.T, brokers string)) {
	t.Run("ferry", func(t *testing.T) { fn(t, startFerry(t)) })
	t.Run("testcluster", func(t *testing.T) { fn(t, startTestCluster(t)) })
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s%d\n", prefix, i)
	}
	return b.String()
}

// committed returns the group's committed offset of partition p of topic,
// or -1.
func committed(t *testing.T, brokers, group, topic string, p int32) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	os, err := adminClient(t, brokers).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching offsets of %s: %v", group, err)
	}
	if o, ok := os.Lookup(topic, p); ok && o.Err == nil {
		return o.At
	}
	return -1
}

func TestGroupLifecycle(t *testing.T) {
	groupBrokers(t, testGroupLifecycle)
}

func testGroupLifecycle(t *testing.T, brokers string) {
	topic := testTopic(t)
	group := topic + "-g"
	createTopic(t, brokers, topic, 1)
	b := []string{"--brokers", brokers}
	mustRun(t, runProduce, lines("r", 0, 10), append([]string{"--topic", topic}, b...)...)

	consume := func(max int) string {
		return mustRun(t, runConsume, "", append([]string{"--topic", topic, "--group", group, "--max", fmt.Sprint(max)}, b...)...)
	}
	// Two runs of the group read disjoint halves: the second resumes
	// where the first committed.
	if out := consume(4); out != lines("r", 0, 4) {
		t.Fatalf("first consume --group --max 4: got %q", out)
	}
	if got := committed(t, brokers, group, topic, 0); got != 4 {
		t.Fatalf("committed after the first run: %d, want 4", got)
	}
	if out := consume(6); out != lines("r", 4, 10) {
		t.Fatalf("second consume --group --max 6: got %q", out)
	}
	if got := committed(t, brokers, group, topic, 0); got != 10 {
		t.Fatalf("committed after the second run: %d, want 10", got)
	}

	// Three more records: a lag of 3.
	mustRun(t, runProduce, lines("r", 10, 13), append([]string{"--topic", topic}, b...)...)

	out := mustRun(t, runGroup, "", append([]string{"list"}, b...)...)
	if !regexp.MustCompile(`(?m)^GROUP\s+STATE\s+PROTOCOL-TYPE\s+MEMBERS$`).MatchString(out) {
		t.Errorf("list has no header:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(group) + `\s+Empty\s+consumer\s+0$`).MatchString(out) {
		t.Errorf("list does not show %s as Empty with 0 members:\n%s", group, out)
	}
	out = mustRun(t, runGroup, "", append([]string{"list", "--state", "stable"}, b...)...)
	if strings.Contains(out, group) {
		t.Errorf("list --state stable shows the empty group:\n%s", out)
	}
	out = mustRun(t, runGroup, "", append([]string{"list", "--state", "Empty"}, b...)...)
	if !strings.Contains(out, group) {
		t.Errorf("list --state Empty does not show the group:\n%s", out)
	}

	out = mustRun(t, runGroup, "", append([]string{"describe", group}, b...)...)
	wantDescribe := []string{
		`(?m)^Group: ` + regexp.QuoteMeta(group) + `  State: Empty  Protocol: consumer  Members: 0$`,
		`(?m)^TOPIC\s+PARTITION\s+COMMITTED\s+LOG-END\s+LAG\s+MEMBER$`,
		`(?m)^` + regexp.QuoteMeta(topic) + `\s+0\s+10\s+13\s+3\s+-$`,
	}
	for _, re := range wantDescribe {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe does not match %s:\n%s", re, out)
		}
	}

	// Dry run: prints the plan and changes nothing.
	reset := func(extra ...string) string {
		return mustRun(t, runGroup, "", append(append([]string{"reset-offsets", group, "--topic", topic}, extra...), b...)...)
	}
	dry := "dry run: nothing changed; add --execute to commit these offsets for group " + group + "\n"
	for _, tc := range []struct {
		args []string
		new  int
	}{
		{[]string{"--to-offset", "2"}, 2},
		{[]string{"--to-offset", "1000"}, 13}, // clamped to the end
		{[]string{"--to-earliest"}, 0},
		{[]string{"--to-latest"}, 13},
		{[]string{"--to-time", "2000-01-01T00:00:00Z"}, 0},
		{[]string{"--to-time", "2999-01-01T00:00:00Z"}, 13},
		{[]string{"--to-latest", "--partition", "0"}, 13},
	} {
		out := reset(tc.args...)
		want := fmt.Sprintf("PARTITION  CURRENT  NEW\n0          10       %d\n", tc.new) + dry
		if out != want {
			t.Errorf("reset-offsets %q printed\n%s\nwant\n%s", tc.args, out, want)
		}
	}
	if got := committed(t, brokers, group, topic, 0); got != 10 {
		t.Fatalf("dry runs changed the committed offset to %d", got)
	}

	out = reset("--to-offset", "2", "--execute")
	if want := "PARTITION  CURRENT  NEW\n0          10       2\ncommitted new offsets for group " + group + "\n"; out != want {
		t.Fatalf("reset-offsets --execute printed %q, want %q", out, want)
	}
	if got := committed(t, brokers, group, topic, 0); got != 2 {
		t.Fatalf("committed after reset: %d, want 2", got)
	}
	// The group re-reads from the new offset.
	if out := consume(3); out != lines("r", 2, 5) {
		t.Fatalf("consume after reset: got %q", out)
	}

	// A live member: describe shows it; reset --execute and delete refuse.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ClientID("lag-test"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if fs := cl.PollRecords(pctx, 1); fs.NumRecords() != 1 || fs.Records()[0].Offset != 5 {
		t.Fatalf("live member: polled %d records (errors %v), want offset 5", fs.NumRecords(), fs.Errors())
	}
	out = mustRun(t, runGroup, "", append([]string{"describe", group}, b...)...)
	for _, re := range []string{
		`(?m)^Group: ` + regexp.QuoteMeta(group) + `  State: Stable  Protocol: consumer \(\S+\)  Members: 1$`,
		`(?m)^MEMBER\s+INSTANCE\s+CLIENT-ID\s+HOST\s+PARTITIONS$`,
		`(?m)^\S+\s+-\s+lag-test\s+\S+\s+` + regexp.QuoteMeta(topic) + `:0$`,
		`(?m)^` + regexp.QuoteMeta(topic) + `\s+0\s+5\s+13\s+8\s+lag-test-\S+$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe with a member does not match %s:\n%s", re, out)
		}
	}
	_, _, err = runCmd(t, runGroup, "", append([]string{"reset-offsets", group, "--topic", topic, "--to-earliest", "--execute"}, b...)...)
	if err == nil || !strings.Contains(err.Error(), "is Stable with 1 member(s): offsets can only be reset while the group is Empty") {
		t.Errorf("reset-offsets --execute on a live group: got %v", err)
	}
	_, errOut, err := runCmd(t, runGroup, "", append([]string{"reset-offsets", group, "--topic", topic, "--to-earliest"}, b...)...)
	if err != nil || !strings.Contains(errOut, "--execute needs it Empty") {
		t.Errorf("reset-offsets dry run on a live group: err %v, stderr %q", err, errOut)
	}
	_, _, err = runCmd(t, runGroup, "", append([]string{"delete", group}, b...)...)
	if err == nil || !strings.Contains(err.Error(), "the group has active members; stop its consumers first") {
		t.Errorf("delete of a live group: got %v", err)
	}
	if got := committed(t, brokers, group, topic, 0); got != 5 {
		t.Fatalf("refused commands changed the committed offset to %d", got)
	}
	cl.Close() // leaves the group

	out = mustRun(t, runGroup, "", append([]string{"delete", group}, b...)...)
	if want := "deleted group " + group + "\n"; out != want {
		t.Fatalf("delete printed %q, want %q", out, want)
	}
	out = mustRun(t, runGroup, "", append([]string{"list"}, b...)...)
	if strings.Contains(out, group) {
		t.Errorf("deleted group still listed:\n%s", out)
	}
	if _, _, err := runCmd(t, runGroup, "", append([]string{"describe", group}, b...)...); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("describe deleted group: want 'does not exist', got %v", err)
	}
	if _, _, err := runCmd(t, runGroup, "", append([]string{"delete", group}, b...)...); err == nil || !strings.Contains(err.Error(), "could not delete 1 of 1 group(s)") {
		t.Errorf("delete missing group: got %v", err)
	}
	// Deleted means its offsets are gone: the group starts over.
	if out := consume(2); out != lines("r", 0, 2) {
		t.Fatalf("consume after delete: got %q", out)
	}
}

// Over several partitions, two runs of the group still read disjoint sets
// that together are everything; --from applies only where nothing is
// committed.
func TestConsumeGroupPartitions(t *testing.T) {
	groupBrokers(t, func(t *testing.T, brokers string) {
		topic := testTopic(t)
		group := topic + "-g"
		createTopic(t, brokers, topic, 3)
		b := []string{"--brokers", brokers}
		var in strings.Builder
		for i := range 30 {
			fmt.Fprintf(&in, "k%d\tv%02d\n", i, i)
		}
		mustRun(t, runProduce, in.String(), append([]string{"--topic", topic, "--key-separator", "\t"}, b...)...)

		args := append([]string{"--topic", topic, "--group", group, "--from", "latest"}, b...)
		// No commits yet and --from latest: a follower sees only new records.
		done := make(chan string, 1)
		go func() {
			out, _, err := runCmd(t, runConsume, "", append(args, "--follow", "--max", "1")...)
			if err != nil {
				out = "error: " + err.Error()
			}
			done <- out
		}()
		want := strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")
		deadline := time.After(20 * time.Second)
	wait:
		for i := 0; ; i++ {
			select {
			case out := <-done:
				if !strings.HasPrefix(out, "late") || strings.Count(out, "\n") != 1 {
					t.Fatalf("--from latest follower printed %q, want one record produced after it joined", out)
				}
				break wait
			case <-deadline:
				t.Fatal("consume --group --follow --max 1 did not return")
			case <-time.After(200 * time.Millisecond):
				v := fmt.Sprintf("late%d", i)
				mustRun(t, runProduce, v+"\n", append([]string{"--topic", topic, "--partition", "0"}, b...)...)
				want = append(want, "\t"+v)
			}
		}

		// Reset everything to the start, then read in two halves.
		mustRun(t, runGroup, "", append([]string{"reset-offsets", group, "--topic", topic, "--to-earliest", "--execute"}, b...)...)
		half := len(want) / 2
		first := mustRun(t, runConsume, "", append(args, "--max", fmt.Sprint(half), "--format", "kv")...)
		second := mustRun(t, runConsume, "", append(args, "--max", fmt.Sprint(len(want)-half), "--format", "kv")...)
		if n := strings.Count(first, "\n"); n != half {
			t.Fatalf("first half printed %d records, want %d", n, half)
		}
		got := strings.Split(strings.TrimSuffix(first+second, "\n"), "\n")
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("two halves read\n%s\nwant each record once:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestGroupUsageErrors(t *testing.T) {
	brokers := startFerry(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 2)
	b := []string{"--brokers", brokers}
	for _, tc := range []struct {
		cmd  func([]string, io.Reader, io.Writer, io.Writer) error
		args []string
		want string
	}{
		{runGroup, nil, "missing action"},
		{runGroup, []string{"frob"}, `unknown action "frob"`},
		{runGroup, []string{"list", "--state", "happy"}, `--state "happy" is not valid: use one of Empty, PreparingRebalance, CompletingRebalance, Stable, Dead`},
		{runGroup, []string{"describe"}, "want exactly one group name"},
		{runGroup, []string{"describe", "nope"}, `group "nope" does not exist — see ` + "`ferry group list`"},
		{runGroup, []string{"delete"}, "want at least one group name"},
		{runGroup, []string{"reset-offsets", "g", "--to-earliest"}, "--topic is required"},
		{runGroup, []string{"reset-offsets", "g", "--topic", topic}, "give exactly one of --to-earliest, --to-latest, --to-time or --to-offset (got 0)"},
		{runGroup, []string{"reset-offsets", "g", "--topic", topic, "--to-earliest", "--to-offset", "3"}, "(got 2)"},
		{runGroup, []string{"reset-offsets", "g", "--topic", topic, "--to-offset", "-2"}, "--to-offset -2 is not valid"},
		{runGroup, []string{"reset-offsets", "g", "--topic", topic, "--to-time", "noon"}, `--to-time "noon" is not valid`},
		{runGroup, []string{"reset-offsets", "g", "--topic", topic, "--to-latest", "--partition", "2"}, "--partition 2 does not exist"},
		{runGroup, []string{"reset-offsets", "g", "--topic", "missing-" + topic, "--to-latest"}, "does not exist"},
		{runConsume, []string{"--topic", topic, "--group", "g"}, "--group needs --follow or --max N"},
		{runConsume, []string{"--topic", topic, "--group", "g", "--max", "1", "--partition", "0"}, "--partition cannot be used with --group"},
		{runConsume, []string{"--topic", topic, "--group", "g", "--max", "1", "--from", "soon"}, `--from "soon" is not valid`},
		{runConsume, []string{"--topic", "missing-" + topic, "--group", "g", "--max", "1"}, "does not exist"},
	} {
		args := tc.args
		if len(args) > 0 {
			args = append(args, b...)
		}
		_, _, err := runCmd(t, tc.cmd, "", args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}
