package broker

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
)

// clusterOfOne starts a broker in a controller quorum of one (node 4).
func clusterOfOne(t *testing.T) *Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.NodeID = 4
	cfg.AdvertisedAddr = "127.0.0.1:19092"
	cfg.ControllerQuorum = "4@" + ctrl
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Moves are checked one by one in a batch: the good ones are committed
// together, the bad ones get their own error, and a batch through Reassign
// is all or nothing.
func TestReassignEachChecksEveryMove(t *testing.T) {
	b := clusterOfOne(t)
	if _, err := b.CreateTopic("m", 2, nil, false); err != nil {
		t.Fatal(err)
	}
	huge := make([]int32, 100000)
	errs := b.ReassignEach([]Move{
		{Topic: "m", Partition: 0, Replicas: []int32{4}}, // already so: nothing to do
		{Topic: "m", Partition: 1, Replicas: []int32{7}}, // not registered
		{Topic: "nope", Partition: 0, Replicas: []int32{4}},
		{Topic: "m", Partition: 0, Replicas: nil},  // m-0 named twice
		{Topic: "m", Partition: 1, Replicas: huge}, // longer than the cluster
		{Topic: "m", Partition: 9, Replicas: []int32{4}},
	})
	want := []error{nil, kerr.InvalidReplicaAssignment, kerr.UnknownTopicOrPartition, kerr.InvalidReplicaAssignment, kerr.InvalidReplicaAssignment, kerr.UnknownTopicOrPartition}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Errorf("move %d: %v, want %v", i, errs[i], w)
		}
	}
	// The unknown ones say what exists, not only the code's description.
	if msg := ErrorMessage(errs[5]); !strings.Contains(msg, "partitions 0-1") {
		t.Errorf("m-9: message %q, want the topic's partitions named", msg)
	}
	if msg := ErrorMessage(errs[2]); !strings.Contains(msg, `topic "nope" does not exist`) {
		t.Errorf("nope-0: message %q, want the topic named", msg)
	}
	if err := b.Reassign([]Move{{Topic: "m", Partition: 0, Replicas: nil}}); !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Fatalf("cancel without a move: %v", err)
	}
	if got := b.Reassignments(); len(got) != 0 {
		t.Fatalf("moves listed: %+v", got)
	}
	res, err := b.ElectLeaders(ElectPreferred, []PartitionRef{{"m", 0}, {"m", 5}})
	if err != nil || !errors.Is(res[PartitionRef{"m", 0}], kerr.ElectionNotNeeded) || !errors.Is(res[PartitionRef{"m", 5}], kerr.UnknownTopicOrPartition) {
		t.Fatalf("elect: %v %v", res, err)
	}
	if res, err := b.ElectLeaders(ElectUnclean, nil); err != nil || len(res) != 0 {
		t.Fatalf("unclean election of every partition, none offline: %v %v", res, err)
	}
}
