package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestParsePlan(t *testing.T) {
	req, n, err := parsePlan([]byte(`{"version":1,"partitions":[
		{"topic":"a","partition":0,"replicas":[3,1,2],"log_dirs":["any","any","any"]},
		{"topic":"a","partition":1,"replicas":[2]}]}`))
	if err != nil || n != 2 {
		t.Fatalf("good plan: %v (%d entries)", err, n)
	}
	if !slices.Equal(req["a"][0], []int32{3, 1, 2}) || !slices.Equal(req["a"][1], []int32{2}) {
		t.Fatalf("parsed %v", req)
	}
	for _, c := range []struct{ plan, want string }{
		{`{"version":2,"partitions":[{"topic":"a","partition":0,"replicas":[1]}]}`, "version 2"},
		{`{"version":1,"partitions":[]}`, "no partitions"},
		{`{"version":1,"partitions":[{"topic":"a","replicas":[1]}]}`, "names no partition"},
		{`{"version":1,"partitions":[{"partition":0,"replicas":[1]}]}`, "names no topic"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}`, "names no replicas"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}`, "twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1],"log_dirs":["/d"]}]}`, "one data dir"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replica":[1]}]}`, "not Kafka's reassignment JSON"},
		{`not json`, "not Kafka's reassignment JSON"},
	} {
		if _, _, err := parsePlan([]byte(c.plan)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("plan %s: %v, want an error about %q", c.plan, err, c.want)
		}
	}
}

// The commands against kfake, which answers the APIs without moving
// anything: the requests are well formed and the answers reported, a
// failed partition fails the command. (test/integration runs them against
// a real cluster.)
func TestClusterReassignAndElectCommands(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(1, "moved"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := []string{"--brokers", strings.Join(c.ListenAddrs(), ","), "--timeout", "10s"}
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"moved","partition":0,"replicas":[2,1,0]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, runCluster, "", append([]string{"reassign", "--plan", plan}, b...)...)
	if out != "moved-0: moving to [2 1 0]\n" {
		t.Fatalf("reassign printed %q", out)
	}
	out = mustRun(t, runCluster, "", append([]string{"reassign", "--status"}, b...)...)
	if out != "no reassignment in progress\n" {
		t.Fatalf("status printed %q", out)
	}
	out, _, err = runCmd(t, runCluster, "", append([]string{"reassign", "--cancel", "--plan", plan}, b...)...)
	if err == nil || !strings.Contains(out, "moved-0: NO_REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("cancel of no move: %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1]}]}`), 0o644)
	if out, _, err := runCmd(t, runCluster, "", append([]string{"reassign", "--plan", bad}, b...)...); err == nil || !strings.Contains(out, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("unknown topic: %q, %v", out, err)
	}
	if _, _, err := runCmd(t, runCluster, "", append([]string{"reassign", "--status", "--cancel"}, b...)...); err == nil {
		t.Fatal("--status with --cancel accepted")
	}
	out = mustRun(t, runCluster, "", append([]string{"elect-leaders", "--topic", "moved"}, b...)...)
	if out != "moved-0: leader elected\n1 elected, 0 not needed, 0 failed\n" {
		t.Fatalf("elect-leaders printed %q", out)
	}
}

// A broker that has nothing to add to an error sends the code's
// description as the message (broker.ErrorMessage); the CLI, which prints
// the error with its description already, must not print it twice.
func TestErrMessageDropsTheRepeatedDescription(t *testing.T) {
	err := kerr.UnknownTopicOrPartition
	if got := errMessage(err, err.Description); got != "" {
		t.Errorf("errMessage(%v, its description) = %q, want nothing", err, got)
	}
	if got := errMessage(err, "topic t has 6 partitions"); got != ": topic t has 6 partitions" {
		t.Errorf("errMessage kept %q", got)
	}
}
