package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startTestCluster returns the address of a broker for one test. By default
// it is an in-memory franz-go fake cluster; set FERRY_TEST_BROKERS to run the
// same tests against a real broker (topics get unique names).
func startTestCluster(t *testing.T) string {
	t.Helper()
	if addrs := os.Getenv("FERRY_TEST_BROKERS"); addrs != "" {
		return addrs
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting fake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

var topicSeq atomic.Int64

// testTopic returns a topic name unique to this test run.
func testTopic(t *testing.T) string {
	name := regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("%s-%d-%d", strings.ToLower(name), time.Now().UnixNano()%1e6, topicSeq.Add(1))
}

// runCmd runs a subcommand with stdin and returns its stdout and stderr.
func runCmd(t *testing.T, cmd func([]string, io.Reader, io.Writer, io.Writer) error, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := cmd(args, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// mustRun is runCmd failing the test on error.
func mustRun(t *testing.T, cmd func([]string, io.Reader, io.Writer, io.Writer) error, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runCmd(t, cmd, stdin, args...)
	if err != nil {
		t.Fatalf("%q: %v\nstderr: %s", args, err, errOut)
	}
	return out
}

// adminClient returns a kadm client for direct checks in tests.
func adminClient(t *testing.T, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates a topic directly, for tests of other commands.
func createTopic(t *testing.T, brokers, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := adminClient(t, brokers).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
}

func TestUnreachableBroker(t *testing.T) {
	// A port nothing listens on: bind one, then close it.
	_, errOut, err := runCmd(t, runTopic, "", "list", "--brokers", "127.0.0.1:1")
	if err == nil {
		t.Fatalf("want an error, got none (stderr %q)", errOut)
	}
	for _, want := range []string{"cannot reach broker at 127.0.0.1:1", "ferry serve", "--brokers", "FERRY_BROKERS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	fs := newFlagSet("x", "x", io.Discard, io.Discard)
	n := fs.Int("n", 0, "")
	pos, err := parseArgs(fs, []string{"a", "-n", "3", "b", "--", "-n"})
	if err != nil {
		t.Fatal(err)
	}
	if *n != 3 || strings.Join(pos, " ") != "a b -n" {
		t.Fatalf("n=%d pos=%q", *n, pos)
	}
}

// TestBrokersAndTimeoutFromEnvironment: FERRY_BROKERS points every command
// at a broker without --brokers, FERRY_TIMEOUT sets --timeout, and a bad
// FERRY_TIMEOUT is an error naming the variable.
func TestBrokersAndTimeoutFromEnvironment(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	t.Setenv(brokersEnv, brokers)
	t.Setenv(timeoutEnv, "7s")
	fs := newFlagSet("x", "x", io.Discard, io.Discard)
	if cf := addClientFlags(fs); cf.brokers != brokers || cf.timeout != 7*time.Second {
		t.Fatalf("from the environment: brokers %q timeout %v", cf.brokers, cf.timeout)
	}
	if out := mustRun(t, runTopic, "", "list"); !strings.Contains(out, topic) {
		t.Fatalf("topic list with %s=%s does not show %s:\n%s", brokersEnv, brokers, topic, out)
	}
	t.Setenv(timeoutEnv, "soon")
	_, _, err := runCmd(t, runTopic, "", "list")
	if err == nil || !strings.Contains(err.Error(), timeoutEnv) {
		t.Fatalf("topic list with %s=soon: err = %v, want an error naming the variable", timeoutEnv, err)
	}
}

// TestRetryTimeoutKeepsGroupRequestsAlive: a short --timeout bounds the
// retries of ordinary requests, but not below the session timeout for
// joining and staying in a group, where a rebalance may take that long.
func TestRetryTimeoutKeepsGroupRequestsAlive(t *testing.T) {
	c := &clientFlags{timeout: 2 * time.Second}
	if got := c.retryTimeout(int16(kmsg.Metadata)); got != 2*time.Second {
		t.Errorf("Metadata retry timeout %v, want --timeout 2s", got)
	}
	for _, k := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.ConsumerGroupHeartbeat} {
		if got := c.retryTimeout(int16(k)); got != groupSessionTimeout {
			t.Errorf("%s retry timeout %v, want %v", k.Name(), got, groupSessionTimeout)
		}
	}
}
