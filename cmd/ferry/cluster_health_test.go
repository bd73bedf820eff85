package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// healthMetadata is a hand-built Metadata response: brokers 1-3, and one
// topic per case below.
func healthMetadata() kadm.Metadata {
	part := func(topic string, p, leader int32, replicas, isr []int32, err error) kadm.PartitionDetail {
		return kadm.PartitionDetail{Topic: topic, Partition: p, Leader: leader, Replicas: replicas, ISR: isr, Err: err}
	}
	topic := func(name string, parts ...kadm.PartitionDetail) kadm.TopicDetail {
		td := kadm.TopicDetail{Topic: name, Partitions: kadm.PartitionDetails{}}
		for _, p := range parts {
			td.Partitions[p.Partition] = p
		}
		return td
	}
	withOffline := part("offline-replica", 0, 1, []int32{1, 2, 3}, []int32{1, 2, 3}, nil)
	withOffline.OfflineReplicas = []int32{3}
	return kadm.Metadata{
		Cluster:    "c1",
		Controller: 2,
		Brokers: kadm.BrokerDetails{
			{NodeID: 3, Host: "127.0.0.1", Port: 9094},
			{NodeID: 1, Host: "127.0.0.1", Port: 9092},
			{NodeID: 2, Host: "127.0.0.1", Port: 9093},
		},
		Topics: kadm.TopicDetails{
			"healthy": topic("healthy",
				part("healthy", 0, 1, []int32{1, 2}, []int32{2, 1}, nil),
				part("healthy", 1, 2, []int32{2}, []int32{2}, nil)),
			// ISR 2 of 3, min.insync.replicas 2: under-replicated only.
			"under-replicated": topic("under-replicated",
				part("under-replicated", 0, 1, []int32{1, 2, 3}, []int32{1, 2}, nil)),
			// ISR 1 of 3, min.insync.replicas 2: both.
			"under-min": topic("under-min",
				part("under-min", 0, 1, []int32{1, 2, 3}, []int32{1}, nil)),
			// No min.insync.replicas reported: the default 1 applies.
			"default-min": topic("default-min",
				part("default-min", 0, 1, []int32{1, 2}, []int32{1}, nil)),
			"no-leader": topic("no-leader",
				part("no-leader", 0, -1, []int32{3}, []int32{3}, kerr.LeaderNotAvailable)),
			// A follower missing is no reason to call it offline.
			"replica-missing": topic("replica-missing",
				part("replica-missing", 0, 1, []int32{1, 3}, []int32{1, 3}, kerr.ReplicaNotAvailable)),
			"leader-unreachable": topic("leader-unreachable",
				part("leader-unreachable", 0, 3, []int32{3}, []int32{3}, nil)),
			"leader-unlisted": topic("leader-unlisted",
				part("leader-unlisted", 0, 7, []int32{7}, []int32{7}, nil)),
			"offline-replica": topic("offline-replica", withOffline),
			"broken":          {Topic: "broken", Err: kerr.UnknownServerError},
		},
	}
}

func TestClassifyHealth(t *testing.T) {
	minISR := map[string]int{"under-replicated": 2, "under-min": 2, "healthy": 1}
	h := classify(healthMetadata(), 2, minISR, map[int32]string{3: "connection refused"}, nil)

	wantBrokers := []brokerHealth{{ID: 1, Addr: "127.0.0.1:9092"}, {ID: 2, Addr: "127.0.0.1:9093"}, {ID: 3, Addr: "127.0.0.1:9094", Unreachable: "connection refused"}}
	if !reflect.DeepEqual(h.Brokers, wantBrokers) {
		t.Errorf("brokers %+v, want %+v", h.Brokers, wantBrokers)
	}
	type flags struct{ ur, min, off bool }
	want := map[string]flags{
		"default-min":        {ur: true},
		"leader-unlisted":    {off: true},
		"leader-unreachable": {off: true},
		"no-leader":          {off: true},
		"offline-replica":    {}, // listed for its offline replica, counted nowhere
		"replica-missing":    {}, // replica 3 does not answer
		"under-min":          {ur: true, min: true},
		"under-replicated":   {ur: true},
	}
	got := map[string]flags{}
	for _, p := range h.Problems {
		got[p.Topic] = flags{p.UnderReplicated, p.UnderMinISR, p.Offline}
		if len(p.Why) == 0 {
			t.Errorf("%s/%d has a problem but no reason", p.Topic, p.Partition)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %+v\nwant %+v", got, want)
	}
	if want := []string{"broken: UNKNOWN_SERVER_ERROR: The server experienced an unexpected error when processing the request."}; !reflect.DeepEqual(h.TopicErrors, want) {
		t.Errorf("topic errors %q, want %q", h.TopicErrors, want)
	}
	if got, want := h.summary(), "3 brokers, 10 partitions, 3 under-replicated, 1 under min ISR, 3 offline"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	for _, p := range h.Problems {
		switch p.Topic {
		case "offline-replica", "replica-missing":
			if !reflect.DeepEqual(p.OfflineReplicas, []int32{3}) {
				t.Errorf("%s: offline replicas %v, want [3]", p.Topic, p.OfflineReplicas)
			}
		case "default-min":
			if p.MinISR != defaultMinISR {
				t.Errorf("default-min: min ISR %d, want the default %d", p.MinISR, defaultMinISR)
			}
		}
	}
}

// TestClassifyHealthyCluster: nothing to report, and the lists are empty
// rather than null for --json.
func TestClassifyHealthyCluster(t *testing.T) {
	md := healthMetadata()
	md.Topics = kadm.TopicDetails{"healthy": md.Topics["healthy"]}
	h := classify(md, 1, nil, nil, nil)
	if h.Problems == nil || len(h.Problems) != 0 || h.Offline != 0 {
		t.Fatalf("healthy cluster: problems %+v", h.Problems)
	}
	if got, want := h.summary(), "3 brokers, 2 partitions, 0 under-replicated, 0 under min ISR, 0 offline"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestMarkDrainingCountsTheReplicasLeft(t *testing.T) {
	md := healthMetadata()
	h := classify(md, 2, nil, nil, nil)
	markDraining(&h, md, map[int32]bool{1: true, 3: true, 9: true})
	left := replicasOn(md, 1)
	if left == 0 {
		t.Fatal("the test metadata has no replica on broker 1")
	}
	for _, b := range h.Brokers {
		switch b.ID {
		case 1:
			if !b.Draining || b.ReplicasLeft != left || !strings.Contains(b.state(), "draining (") {
				t.Errorf("broker 1: %+v, state %q; want draining with %d left", b, b.state(), left)
			}
		case 2:
			if b.Draining || b.state() != "up" {
				t.Errorf("broker 2: %+v, state %q", b, b.state())
			}
		}
	}
	// A draining broker no partition names is drained.
	md.Topics = nil
	h = classify(md, 2, nil, nil, nil)
	markDraining(&h, md, map[int32]bool{1: true})
	if got := h.Brokers[0].state(); got != "up, drained: safe to stop" {
		t.Errorf("drained broker's state %q", got)
	}
}

// TestClassifyMovingPartitionIsNotUnderReplicated: during a move the
// replicas are the target followed by those it drops, and the replicas it
// adds join the ISR only once they have caught up. Those are not missing
// copies (the partition still has its replication factor in sync), as in
// Kafka, which counts a moving partition's replication factor without the
// adding replicas; a dropped replica that left the ISR still counts.
func TestClassifyMovingPartitionIsNotUnderReplicated(t *testing.T) {
	md := healthMetadata()
	md.Topics = kadm.TopicDetails{"orders": {Topic: "orders", Partitions: kadm.PartitionDetails{
		// Moving 1,2,3 to 4,1,2: 4 is copying.
		0: {Topic: "orders", Partition: 0, Leader: 1, Replicas: []int32{4, 1, 2, 3}, ISR: []int32{1, 2, 3}},
		// Moving 1,2,3 to 4,1,2, and 3 also fell out of the ISR.
		1: {Topic: "orders", Partition: 1, Leader: 1, Replicas: []int32{4, 1, 2, 3}, ISR: []int32{1, 2}},
	}}}
	md.Brokers = append(md.Brokers, kadm.BrokerDetail{NodeID: 4, Host: "127.0.0.1", Port: 9095})
	adding := map[string]map[int32][]int32{"orders": {0: {4}, 1: {4}}}
	h := classify(md, 1, map[string]int{"orders": 2}, nil, adding)
	if h.UnderReplicated != 1 || len(h.Problems) != 1 || h.Problems[0].Partition != 1 {
		t.Fatalf("under-replicated %d, problems %+v; want only partition 1", h.UnderReplicated, h.Problems)
	}
	if got := strings.Join(h.Problems[0].Why, "; "); !strings.Contains(got, "2 of 3 replicas in sync") || !strings.Contains(got, "adding 4") {
		t.Errorf("why %q: want 2 of 3 in sync and the adding replica named", got)
	}
}

// TestStuckOnDrain: in a 3-broker cluster, draining broker 1 can move a
// partition of 2 replicas but not one of 3; a second draining broker
// leaves fewer places still.
func TestStuckOnDrain(t *testing.T) {
	md := healthMetadata()
	md.Topics = kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
		0: {Topic: "t", Partition: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
		1: {Topic: "t", Partition: 1, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
		2: {Topic: "t", Partition: 2, Leader: 2, Replicas: []int32{2, 3}, ISR: []int32{2, 3}},
	}}}
	if n, rf, others := stuckOnDrain(md, 1, nil, nil); n != 1 || rf != 3 || others != 2 {
		t.Errorf("draining 1: %d stuck (rf %d, %d others), want 1 partition of rf 3 with 2 others", n, rf, others)
	}
	if n, _, others := stuckOnDrain(md, 1, map[int32]bool{1: true, 3: true}, nil); n != 2 || others != 1 {
		t.Errorf("draining 1 and 3: %d stuck, %d others; want 2 and 1", n, others)
	}
	// Partition 0 moving from 1,2,3 to 4,2,3 (4 copying) lists 4 replicas:
	// with broker 4 up, 3 others suffice.
	md.Brokers = append(md.Brokers, kadm.BrokerDetail{NodeID: 4})
	md.Topics["t"].Partitions[0] = kadm.PartitionDetail{Topic: "t", Partition: 0, Leader: 1, Replicas: []int32{4, 2, 3, 1}, ISR: []int32{1, 2, 3}}
	if n, _, _ := stuckOnDrain(md, 1, nil, map[string]map[int32][]int32{"t": {0: {4}}}); n != 0 {
		t.Errorf("moving partition counted stuck: %d", n)
	}
}
