package controller

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestElectPreferred(t *testing.T) {
	img := cluster(t, nil,
		pl(2, 1, []int32{1, 2, 3}, []int32{1, 2, 3}), // 1 in sync: elected
		pl(1, 1, []int32{1, 2, 3}, []int32{1, 2, 3}), // leads already
		pl(2, 1, []int32{1, 2, 3}, []int32{2, 3}),    // 1 out of sync
	)
	next, err := ElectPreferred(img, placementOf(img, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkPlacement(t, "preferred", next, 1, 2, 2, 1, 2, 3)
	if _, err := ElectPreferred(img, placementOf(img, 1)); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("leading already: %v", err)
	}
	if _, err := ElectPreferred(img, placementOf(img, 2)); !errors.Is(err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("out of sync: %v", err)
	}
	img = apply(t, img, Fence(img, 1, Policy{}))
	if _, err := ElectPreferred(img, placementOf(img, 0)); !errors.Is(err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("fenced: %v", err)
	}
}

func TestElectUnclean(t *testing.T) {
	img := cluster(t, nil, pl(1, 0, []int32{1, 2}, []int32{1}))
	if _, err := ElectUnclean(img, placementOf(img, 0)); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("led partition: %v", err)
	}
	img = apply(t, img, Fence(img, 1, Policy{}))
	next, err := ElectUnclean(img, placementOf(img, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkPlacement(t, "unclean", next, 2, 2, 2, 2)
	img = apply(t, img, Fence(img, 2, Policy{}))
	if _, err := ElectUnclean(img, placementOf(img, 0)); !errors.Is(err, kerr.EligibleLeadersNotAvailable) {
		t.Fatalf("nothing live: %v", err)
	}
}

func TestRebalanceLeadersHonoursTheImbalanceShare(t *testing.T) {
	// Broker 1 prefers 4 partitions and leads 3: 25% imbalance.
	img := cluster(t, nil,
		pl(1, 0, []int32{1, 2}, []int32{1, 2}),
		pl(1, 0, []int32{1, 2}, []int32{1, 2}),
		pl(1, 0, []int32{1, 2}, []int32{1, 2}),
		pl(2, 0, []int32{1, 2}, []int32{1, 2}),
	)
	if recs := RebalanceLeaders(img, 30, nil); recs != nil {
		t.Fatalf("under the threshold: %v", recs)
	}
	if recs := RebalanceLeaders(img, 0, nil); len(recs) != 1 {
		t.Fatalf("share 0: any imbalance moves leadership back, got %v", recs)
	}
	recs := RebalanceLeaders(img, 10, nil)
	if len(recs) != 1 || recs[0].Placement.Partition != 3 || recs[0].Placement.Placement.Leader != 1 {
		t.Fatalf("rebalance: %+v", recs)
	}
	img = apply(t, img, recs)
	if recs := RebalanceLeaders(img, 10, nil); recs != nil {
		t.Fatalf("balanced: %v", recs)
	}
}
