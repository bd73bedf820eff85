package controller

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/meta"
)

// cluster returns an image with brokers 1-3 registered (incarnation
// "i<n>") and topic t placed as given.
func cluster(t *testing.T, configs map[string]string, placement ...meta.Placement) *meta.Image {
	t.Helper()
	var recs []meta.Record
	for n := int32(1); n <= 3; n++ {
		recs = append(recs, meta.Record{Broker: &meta.BrokerRecord{NodeID: n, Addr: "h:" + string('0'+rune(n)), Incarnation: "i" + string('0'+rune(n))}})
	}
	recs = append(recs, meta.Record{Topic: &meta.TopicRecord{Name: "t", Partitions: int32(len(placement)), Configs: configs, Placement: placement}})
	img, err := meta.NewImage(1).Apply(recs)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func apply(t *testing.T, img *meta.Image, recs []meta.Record) *meta.Image {
	t.Helper()
	next, err := img.Apply(recs)
	if err != nil {
		t.Fatalf("records %v do not apply: %v", recs, err)
	}
	return next
}

func placementOf(img *meta.Image, partition int) meta.Placement {
	t, _ := img.Topic("t")
	return t.Placement[partition]
}

func pl(leader int32, epoch int32, replicas, isr []int32) meta.Placement {
	return meta.Placement{Replicas: replicas, Leader: leader, LeaderEpoch: epoch, ISR: isr, PartitionEpoch: epoch}
}

func checkPlacement(t *testing.T, what string, got meta.Placement, leader, leaderEpoch, partitionEpoch int32, isr ...int32) {
	t.Helper()
	if got.Leader != leader || got.LeaderEpoch != leaderEpoch || got.PartitionEpoch != partitionEpoch || !slices.Equal(got.ISR, isr) {
		t.Fatalf("%s: leader %d epoch %d partition epoch %d isr %v; want leader %d epoch %d partition epoch %d isr %v",
			what, got.Leader, got.LeaderEpoch, got.PartitionEpoch, got.ISR, leader, leaderEpoch, partitionEpoch, isr)
	}
}

func TestFenceMovesLeadershipToTheFirstLiveISRReplica(t *testing.T) {
	img := cluster(t, nil,
		pl(1, 4, []int32{1, 2, 3}, []int32{1, 2, 3}), // led by 1: 2 is next in Replicas order
		pl(1, 0, []int32{1, 3, 2}, []int32{1, 2}),    // 3 is out of the ISR: 2 leads
		pl(2, 7, []int32{2, 1, 3}, []int32{2, 1, 3}), // 1 only follows: leaves the ISR
		pl(3, 1, []int32{3, 2}, []int32{3, 2}),       // 1 is no replica: unchanged
	)
	img = apply(t, img, Fence(img, 1, Policy{}))
	if b, _ := img.Broker(1); !b.Fenced {
		t.Fatal("broker 1 is not fenced")
	}
	checkPlacement(t, "partition 0", placementOf(img, 0), 2, 5, 5, 2, 3)
	checkPlacement(t, "partition 1", placementOf(img, 1), 2, 1, 1, 2)
	checkPlacement(t, "partition 2", placementOf(img, 2), 2, 7, 8, 2, 3)
	checkPlacement(t, "partition 3", placementOf(img, 3), 3, 1, 1, 3, 2)
	if Fence(img, 1, Policy{}) != nil {
		t.Fatal("fencing a fenced broker wrote records")
	}
}

func TestFenceSkipsFencedISRMembers(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}))
	// 2 was fenced while 1 led: it left the ISR.
	img = apply(t, img, Fence(img, 2, Policy{}))
	checkPlacement(t, "after fencing 2", placementOf(img, 0), 1, 0, 1, 1, 3)
	img = apply(t, img, Fence(img, 1, Policy{}))
	checkPlacement(t, "after fencing 1", placementOf(img, 0), 3, 1, 2, 3)
}

func TestFenceWithoutLiveISRMemberTakesThePartitionOffline(t *testing.T) {
	img := cluster(t, nil, pl(1, 2, []int32{1, 2}, []int32{1}))
	img = apply(t, img, Fence(img, 1, Policy{}))
	// 2 is alive but not in the ISR: it may lack acknowledged records.
	checkPlacement(t, "offline", placementOf(img, 0), -1, 3, 3, 1)

	// 1 comes back: it was the last ISR member, so it leads again.
	recs, err := Heartbeat(img, Registration{NodeID: 1, Addr: "h:1", Incarnation: "i1"}, NewLeases(time.Second), time.Now(), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	img = apply(t, img, recs)
	if !img.Live(1) {
		t.Fatal("broker 1 is still fenced after its heartbeat")
	}
	checkPlacement(t, "back", placementOf(img, 0), 1, 4, 4, 1)
}

func TestUncleanElectionLetsAnyLiveReplicaLead(t *testing.T) {
	unclean := map[string]string{"unclean.leader.election.enable": "true"}
	img := cluster(t, unclean, pl(1, 0, []int32{1, 3, 2}, []int32{1}))
	img = apply(t, img, Fence(img, 1, Policy{}))
	checkPlacement(t, "unclean", placementOf(img, 0), 3, 1, 1, 3)

	// The broker default enables it too.
	img = cluster(t, nil, pl(1, 0, []int32{1, 3, 2}, []int32{1}))
	img = apply(t, img, Fence(img, 1, Policy{TopicDefaults: map[string]string{"unclean.leader.election.enable": "true"}}))
	checkPlacement(t, "unclean by default", placementOf(img, 0), 3, 1, 1, 3)

	// Offline with every replica fenced: the first replica back leads.
	img = cluster(t, unclean, pl(1, 0, []int32{1, 2}, []int32{1}))
	img = apply(t, img, Fence(img, 2, Policy{}))
	img = apply(t, img, Fence(img, 1, Policy{}))
	checkPlacement(t, "offline", placementOf(img, 0), -1, 1, 1, 1)
	recs, err := Heartbeat(img, Registration{NodeID: 2, Addr: "h:2", Incarnation: "i2"}, NewLeases(time.Second), time.Now(), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	img = apply(t, img, recs)
	checkPlacement(t, "unclean return", placementOf(img, 0), 2, 2, 2, 2)
}

func TestHeartbeatOfARegisteredLiveBrokerWritesNothing(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1}, []int32{1}))
	recs, err := Heartbeat(img, Registration{NodeID: 1, Addr: "h:1", Incarnation: "i1"}, NewLeases(time.Second), time.Now(), Policy{})
	if err != nil || recs != nil {
		t.Fatalf("heartbeat wrote %v, %v", recs, err)
	}
	// A new address is written.
	recs, err = Heartbeat(img, Registration{NodeID: 1, Addr: "h:9", Incarnation: "i1"}, NewLeases(time.Second), time.Now(), Policy{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("heartbeat with a new address wrote %v, %v", recs, err)
	}
	img = apply(t, img, recs)
	if b, _ := img.Broker(1); b.Addr != "h:9" {
		t.Fatalf("address %q", b.Addr)
	}
}

func TestNewIncarnationIsADuplicateWhileTheOldLeaseRuns(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1, 2}))
	now := time.Unix(1000, 0)
	leases := NewLeases(time.Second)
	leases.TakeOffice(now)
	leases.Heard(1, "i1", now)
	second := Registration{NodeID: 1, Addr: "h:5", Incarnation: "other"}
	if _, err := Heartbeat(img, second, leases, now.Add(500*time.Millisecond), Policy{}); !errors.Is(err, ErrDuplicateNode) {
		t.Fatalf("second process with node id 1: %v, want ErrDuplicateNode", err)
	}
	// Once the old lease ran out it is a restart: the old incarnation is
	// fenced (leadership moves) and the new one registered.
	recs, err := Heartbeat(img, second, leases, now.Add(time.Second), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	img = apply(t, img, recs)
	if b, _ := img.Broker(1); b.Fenced || b.Incarnation != "other" || b.Addr != "h:5" {
		t.Fatalf("broker 1 after the restart: %+v", b)
	}
	checkPlacement(t, "restart", placementOf(img, 0), 2, 1, 1, 2)
}

func TestHeartbeatRefusesIncompleteRegistrations(t *testing.T) {
	img := cluster(t, nil)
	for _, reg := range []Registration{{NodeID: -1, Addr: "a", Incarnation: "i"}, {NodeID: 1, Incarnation: "i"}, {NodeID: 1, Addr: "a"}} {
		if _, err := Heartbeat(img, reg, NewLeases(time.Second), time.Now(), Policy{}); err == nil {
			t.Errorf("heartbeat %+v accepted", reg)
		}
	}
}

func TestLeasesGiveANewControllerAFullSession(t *testing.T) {
	img := cluster(t, nil)
	l := NewLeases(time.Second)
	start := time.Unix(1000, 0)
	l.TakeOffice(start)
	l.Heard(1, "i1", start.Add(800*time.Millisecond))
	if got := l.Expired(img, start.Add(900*time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired before a session passed: %v", got)
	}
	if got := l.Expired(img, start.Add(time.Second)); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("expired after a session: %v, want [2 3] (1 was heard)", got)
	}
	// A later controller forgets what an earlier one heard.
	l.TakeOffice(start.Add(5 * time.Second))
	if got := l.Expired(img, start.Add(5500*time.Millisecond)); len(got) != 0 {
		t.Fatalf("new controller expired %v at once", got)
	}
	img = apply(t, img, Fence(img, 2, Policy{}))
	if got := l.Expired(img, start.Add(7*time.Second)); !slices.Equal(got, []int32{1, 3}) {
		t.Fatalf("expired %v, want [1 3] (2 is fenced already)", got)
	}
	// Once a new incarnation of 3 was heard, the registered one is gone
	// at once: the controller accepted its successor.
	l.TakeOffice(start.Add(10 * time.Second))
	l.Heard(3, "new", start.Add(10*time.Second))
	if got := l.Expired(img, start.Add(10*time.Second)); !slices.Equal(got, []int32{3}) {
		t.Fatalf("expired %v, want [3] (its incarnation i3 was replaced)", got)
	}
	if !l.Live(3, "new", start.Add(10*time.Second)) {
		t.Fatal("the new incarnation's lease does not run")
	}
}

func TestPlaceSpreadsLeadersAndReplicas(t *testing.T) {
	got, err := Place([]int32{1, 2, 3}, 0, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for i, p := range got {
		leaders[p.Leader]++
		if p.Replicas[0] != p.Leader || len(p.Replicas) != 3 || !slices.Equal(p.Replicas, p.ISR) {
			t.Fatalf("partition %d: %+v", i, p)
		}
		seen := map[int32]bool{}
		for _, r := range p.Replicas {
			if seen[r] {
				t.Fatalf("partition %d names %d twice: %v", i, r, p.Replicas)
			}
			seen[r] = true
		}
	}
	if leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Fatalf("leaders %v", leaders)
	}
	if _, err := Place([]int32{1, 2}, 0, 1, 3); err == nil {
		t.Fatal("replication factor 3 placed on 2 brokers")
	}
	one, _ := Place([]int32{4, 5}, 1, 1, 1)
	if one[0].Leader != 5 || len(one[0].Replicas) != 1 {
		t.Fatalf("start 1: %+v", one)
	}
}
