package controller

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/meta"
)

// ElectPreferred returns p led by its preferred replica, Replicas[0]
// (ElectLeaders with election type PREFERRED). It fails with
// ELECTION_NOT_NEEDED when that replica leads already, and with
// PREFERRED_LEADER_NOT_AVAILABLE when it is not in the ISR or not live:
// only an in-sync replica holds every committed record.
func ElectPreferred(img *meta.Image, p meta.Placement) (meta.Placement, error) {
	preferred := p.Replicas[0]
	if p.Leader == preferred {
		return p, fmt.Errorf("%w: preferred replica %d leads already", kerr.ElectionNotNeeded, preferred)
	}
	if !slices.Contains(p.ISR, preferred) || !img.Live(preferred) {
		return p, fmt.Errorf("%w: preferred replica %d is not in the ISR %v or not live", kerr.PreferredLeaderNotAvailable, preferred, p.ISR)
	}
	next := clonePlacement(p)
	next.Leader = preferred
	next.LeaderEpoch++
	next.PartitionEpoch++
	return next, nil
}

// ElectUnclean returns an offline p led again (ElectLeaders with election
// type UNCLEAN): by the first live ISR member when there is one, else by
// the first live replica, alone in the ISR (records only the old leader
// held are lost: the operator asked for that). It fails with
// ELECTION_NOT_NEEDED when p has a leader, and with
// ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live.
func ElectUnclean(img *meta.Image, p meta.Placement) (meta.Placement, error) {
	if p.Leader >= 0 {
		return p, fmt.Errorf("%w: broker %d leads", kerr.ElectionNotNeeded, p.Leader)
	}
	next := clonePlacement(p)
	for _, r := range p.Replicas {
		if slices.Contains(p.ISR, r) && img.Live(r) {
			next.Leader = r
			break
		}
	}
	if next.Leader < 0 {
		for _, r := range p.Replicas {
			if img.Live(r) {
				next.Leader, next.ISR = r, []int32{r}
				break
			}
		}
	}
	if next.Leader < 0 {
		return p, fmt.Errorf("%w: no replica of %v is live", kerr.EligibleLeadersNotAvailable, p.Replicas)
	}
	next.LeaderEpoch++
	next.PartitionEpoch++
	return next, nil
}

// RebalanceLeaders returns the records that move leadership back to the
// preferred replicas, as Kafka's auto.leader.rebalance.enable does: for
// each broker whose share of partitions it prefers but does not lead is
// above imbalancePct percent, every such partition whose preferred replica
// is in the ISR and live gets it as leader. Partitions of a topic whose
// auto.leader.rebalance.enable is false are left alone.
func RebalanceLeaders(img *meta.Image, imbalancePct int, enabled func(*meta.Topic) bool) []meta.Record {
	type ref struct {
		topic     *meta.Topic
		partition int32
	}
	preferred := map[int32]int{}
	notLed := map[int32][]ref{}
	for _, t := range img.Topics() {
		if enabled != nil && !enabled(t) {
			continue
		}
		for i, p := range t.Placement {
			if len(p.Replicas) == 0 {
				continue
			}
			want := p.Replicas[0]
			preferred[want]++
			if p.Leader != want {
				notLed[want] = append(notLed[want], ref{t, int32(i)})
			}
		}
	}
	var recs []meta.Record
	for _, node := range slices.Sorted(maps.Keys(notLed)) {
		refs := notLed[node]
		if len(refs)*100 <= imbalancePct*preferred[node] {
			continue
		}
		for _, r := range refs {
			if next, err := ElectPreferred(img, r.topic.Placement[r.partition]); err == nil {
				recs = append(recs, placementRecord(r.topic.Name, r.partition, next))
			}
		}
	}
	return recs
}
