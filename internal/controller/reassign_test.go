package controller

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/meta"
)

// withBroker4 registers a fourth broker, the usual target of a move.
func withBroker4(t *testing.T, img *meta.Image) *meta.Image {
	return apply(t, img, []meta.Record{{Broker: &meta.BrokerRecord{NodeID: 4, Addr: "h:4", Incarnation: "i4"}}})
}

func setPlacement(t *testing.T, img *meta.Image, p meta.Placement) *meta.Image {
	t.Helper()
	return apply(t, img, []meta.Record{placementRecord("t", 0, p)})
}

func TestReassignmentAddsThenCompletesWhenTheNewReplicaIsInSync(t *testing.T) {
	img := withBroker4(t, cluster(t, nil, pl(1, 3, []int32{1, 2, 3}, []int32{1, 2, 3})))
	next, changed, err := StartReassignment(img, placementOf(img, 0), []int32{4, 2, 3})
	if err != nil || !changed {
		t.Fatalf("start: %v %v", changed, err)
	}
	if !slices.Equal(next.Replicas, []int32{4, 2, 3, 1}) || !slices.Equal(next.Adding, []int32{4}) || !slices.Equal(next.Removing, []int32{1}) {
		t.Fatalf("started move: %+v", next)
	}
	checkPlacement(t, "started", next, 1, 3, 4, 1, 2, 3)
	img = setPlacement(t, img, next)
	if !slices.Equal(next.Target(), []int32{4, 2, 3}) || !slices.Equal(next.Original(), []int32{1, 2, 3}) {
		t.Fatalf("target %v original %v", next.Target(), next.Original())
	}
	if _, ok := CompleteReassignment(img, next); ok {
		t.Fatal("completed before the adding replica is in the ISR")
	}
	if recs := CompleteReassignments(img); recs != nil {
		t.Fatalf("controller completes early: %v", recs)
	}
	if _, _, err := StartReassignment(img, next, []int32{2, 3, 4}); !errors.Is(err, kerr.ReassignmentInProgress) {
		t.Fatalf("second move of a moving partition: %v", err)
	}

	// 4 caught up and joined the ISR: the move completes, the removed
	// leader hands over to the first in-sync target replica.
	caught := next
	caught.ISR = []int32{1, 2, 3, 4}
	caught.PartitionEpoch++
	img = setPlacement(t, img, caught)
	img = apply(t, img, CompleteReassignments(img))
	got := placementOf(img, 0)
	if !slices.Equal(got.Replicas, []int32{4, 2, 3}) || got.Reassigning() {
		t.Fatalf("completed: %+v", got)
	}
	checkPlacement(t, "completed", got, 4, 4, 6, 2, 3, 4)
}

func TestReassignmentWithoutNewReplicasCompletesAtOnce(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}))
	next, changed, err := StartReassignment(img, placementOf(img, 0), []int32{3, 2})
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if !slices.Equal(next.Replicas, []int32{3, 2}) || next.Reassigning() {
		t.Fatalf("shrink: %+v", next)
	}
	checkPlacement(t, "shrink", next, 3, 1, 1, 2, 3)
	setPlacement(t, img, next)

	// Only the order changes: no move, the preferred leader changes.
	next, changed, err = StartReassignment(img, placementOf(img, 0), []int32{2, 1, 3})
	if err != nil || !changed || next.Reassigning() || next.Leader != 1 || !slices.Equal(next.Replicas, []int32{2, 1, 3}) {
		t.Fatalf("reorder: %+v %v %v", next, changed, err)
	}
	if _, changed, err := StartReassignment(img, placementOf(img, 0), []int32{1, 2, 3}); changed || err != nil {
		t.Fatalf("same replicas: %v %v", changed, err)
	}
}

func TestReassignmentRefusesBadTargets(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1, 2}))
	p := placementOf(img, 0)
	for _, target := range [][]int32{{}, {1, 1}, {1, 9}} {
		if _, _, err := StartReassignment(img, p, target); !errors.Is(err, kerr.InvalidReplicaAssignment) {
			t.Fatalf("target %v: %v, want INVALID_REPLICA_ASSIGNMENT", target, err)
		}
	}
	if _, err := CancelReassignment(img, p); !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Fatalf("cancel without a move: %v", err)
	}
}

func TestCancelRevertsToTheOriginalReplicas(t *testing.T) {
	img := withBroker4(t, cluster(t, nil, pl(1, 2, []int32{1, 2, 3}, []int32{1, 2, 3})))
	next, _, err := StartReassignment(img, placementOf(img, 0), []int32{4, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	img = setPlacement(t, img, next)
	back, err := CancelReassignment(img, next)
	if err != nil {
		t.Fatal(err)
	}
	// In the original order: the preferred leader is 1 again, so the
	// automatic preferred-leader election does not move leadership away.
	if !slices.Equal(back.Replicas, []int32{1, 2, 3}) || back.Reassigning() {
		t.Fatalf("cancelled: %+v", back)
	}
	checkPlacement(t, "cancelled", back, 1, 2, 4, 1, 2, 3)
	setPlacement(t, img, back)
}

// A move survives a failover: the new leader (chosen by fencing) keeps the
// move, and the controller completes it when the adding replica is in sync.
func TestReassignmentSurvivesFencingTheLeader(t *testing.T) {
	img := withBroker4(t, cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1, 2})))
	next, _, err := StartReassignment(img, placementOf(img, 0), []int32{4, 1})
	if err != nil {
		t.Fatal(err)
	}
	img = setPlacement(t, img, next)
	img = apply(t, img, Fence(img, 1, Policy{}))
	got := placementOf(img, 0)
	if got.Leader != 2 || !slices.Equal(got.Adding, []int32{4}) {
		t.Fatalf("after fencing the leader: %+v", got)
	}
	caught := got
	caught.ISR = []int32{2, 4}
	caught.PartitionEpoch++
	img = setPlacement(t, img, caught)
	img = apply(t, img, CompleteReassignments(img))
	got = placementOf(img, 0)
	// 1 is fenced and out of the ISR; 4 is the only in-sync target replica.
	if !slices.Equal(got.Replicas, []int32{4, 1}) || got.Leader != 4 || !slices.Equal(got.ISR, []int32{4}) || got.Reassigning() {
		t.Fatalf("completed after failover: %+v", got)
	}
}

func TestOldPlacementJSONHasNoMove(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1, 2}))
	if p := placementOf(img, 0); p.Reassigning() || !slices.Equal(p.Target(), p.Replicas) {
		t.Fatalf("%+v", p)
	}
	// A record that names an adding replica outside the replicas is refused.
	bad := pl(1, 1, []int32{1, 2}, []int32{1, 2})
	bad.Adding = []int32{3}
	if _, err := img.Apply([]meta.Record{placementRecord("t", 0, bad)}); err == nil {
		t.Fatal("adding replica outside the replicas applied")
	}
}

// A move may not add a replica on a broker that is fenced (it could never
// catch up, so the move would hang until the broker returns) or draining
// (decommission promised no new replicas there; the balancer would move
// it straight off again). Keeping a replica such a broker already holds is
// fine: that is how the balancer drains it.
func TestReassignmentRefusesToAddFencedOrDrainingBrokers(t *testing.T) {
	img := withBroker4(t, cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1, 2})))
	drained := apply(t, img, []meta.Record{{Drain: &meta.DrainRecord{NodeID: 4, Draining: true}}})
	if _, _, err := StartReassignment(drained, placementOf(drained, 0), []int32{4, 1}); !errors.Is(err, kerr.InvalidReplicaAssignment) || !strings.Contains(err.Error(), "draining") {
		t.Fatalf("adding draining broker 4: %v, want INVALID_REPLICA_ASSIGNMENT naming the drain", err)
	}
	fenced := apply(t, img, Fence(img, 4, Policy{}))
	if _, _, err := StartReassignment(fenced, placementOf(fenced, 0), []int32{4, 1}); !errors.Is(err, kerr.InvalidReplicaAssignment) || !strings.Contains(err.Error(), "not live") {
		t.Fatalf("adding fenced broker 4: %v, want INVALID_REPLICA_ASSIGNMENT saying it is not live", err)
	}
	// Draining broker 2 may keep its replica while another moves.
	drain2 := apply(t, img, []meta.Record{{Drain: &meta.DrainRecord{NodeID: 2, Draining: true}}})
	if _, _, err := StartReassignment(drain2, placementOf(drain2, 0), []int32{2, 4}); err != nil {
		t.Fatalf("keeping draining broker 2's replica: %v", err)
	}
}
