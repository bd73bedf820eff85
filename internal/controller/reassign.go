package controller

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/meta"
)

// A reassignment (KIP-455) moves a partition from its replicas to a target
// list in three steps, each one PlacementRecord:
//
//  1. Start: Replicas = target followed by the original replicas the
//     target drops; Adding = target minus original, Removing = original
//     minus target. The adding replicas open the partition and fetch from
//     the leader like any follower; they are in Replicas, not in the ISR.
//  2. Each adding replica joins the ISR once it has caught up (the
//     leader's ordinary ISR expansion).
//  3. Complete, as soon as every adding replica is in the ISR: Replicas =
//     target, in the target's order, ISR = ISR ∩ target, Adding and
//     Removing cleared; if the leader is removed, the first live replica
//     of target ∩ ISR leads (LeaderEpoch+1). The removed replicas close and
//     delete their logs when they see the record.
//
// A move that adds nothing completes at its start. A cancel reverts a
// running move: Replicas = original (Replicas minus Adding), ISR ∩ original.
// A partition moves once at a time: a second start is refused with
// REASSIGNMENT_IN_PROGRESS (cancel first).

// StartReassignment returns p with a move to target started (epochs
// advanced), or changed=false when target is p's replica list already.
func StartReassignment(img *meta.Image, p meta.Placement, target []int32) (next meta.Placement, changed bool, err error) {
	if err := checkTarget(img, target); err != nil {
		return p, false, err
	}
	if p.Reassigning() {
		return p, false, fmt.Errorf("%w: replicas %v are moving already (adding %v, removing %v); cancel that move first",
			kerr.ReassignmentInProgress, p.Replicas, p.Adding, p.Removing)
	}
	if slices.Equal(p.Replicas, target) {
		return p, false, nil
	}
	next = clonePlacement(p)
	next.Replicas = slices.Clone(target)
	next.Adding, next.Removing, next.From = nil, nil, slices.Clone(p.Replicas)
	for _, r := range target {
		if !slices.Contains(p.Replicas, r) {
			if err := checkNewReplica(img, r); err != nil {
				return p, false, err
			}
			next.Adding = append(next.Adding, r)
		}
	}
	for _, r := range p.Replicas {
		if !slices.Contains(target, r) {
			next.Removing = append(next.Removing, r)
			next.Replicas = append(next.Replicas, r)
		}
	}
	next.PartitionEpoch++
	if !next.Reassigning() {
		next.From = nil
		return next, true, nil // the same replicas in another order
	}
	if done, ok := CompleteReassignment(img, next); ok {
		// Nothing to copy: done in the same record, with one epoch bump.
		done.PartitionEpoch = next.PartitionEpoch
		return done, true, nil
	}
	return next, true, nil
}

// checkTarget refuses an empty target, one naming a broker twice, or one
// naming a broker that never registered.
func checkTarget(img *meta.Image, target []int32) error {
	if len(target) == 0 {
		return fmt.Errorf("%w: the target replica list is empty", kerr.InvalidReplicaAssignment)
	}
	if n := len(img.Brokers()); len(target) > n {
		// Checked first: a huge list costs nothing to refuse.
		return fmt.Errorf("%w: %d replicas named, %d brokers registered", kerr.InvalidReplicaAssignment, len(target), n)
	}
	for i, r := range target {
		if slices.Contains(target[:i], r) {
			return fmt.Errorf("%w: broker %d is named twice in %v", kerr.InvalidReplicaAssignment, r, target)
		}
		if _, ok := img.Broker(r); !ok {
			return fmt.Errorf("%w: broker %d is not registered", kerr.InvalidReplicaAssignment, r)
		}
	}
	return nil
}

// checkNewReplica refuses to add a replica on broker r when it is fenced
// (the new replica could not catch up, so the move would hang until r
// returns) or draining (a decommission promises no new replicas there).
func checkNewReplica(img *meta.Image, r int32) error {
	if !img.Live(r) {
		return fmt.Errorf("%w: broker %d is not live (fenced: it stopped heartbeating), so a new replica there could not catch up; start it first or pick another broker",
			kerr.InvalidReplicaAssignment, r)
	}
	if img.Draining(r) {
		return fmt.Errorf("%w: broker %d is draining (ferry cluster decommission); `ferry cluster decommission %d --cancel` to place replicas on it again",
			kerr.InvalidReplicaAssignment, r, r)
	}
	return nil
}

// CompleteReassignment returns p with its move completed, or ok=false when
// it cannot complete yet: an adding replica is not in the ISR, no target
// replica is in the ISR, or the leader is removed and no live target
// replica in the ISR can take over.
func CompleteReassignment(img *meta.Image, p meta.Placement) (next meta.Placement, ok bool) {
	if !p.Reassigning() {
		return p, false
	}
	for _, r := range p.Adding {
		if !slices.Contains(p.ISR, r) {
			return p, false
		}
	}
	return shrinkTo(img, p, p.Target())
}

// CancelReassignment returns p with its move reverted to the original
// replicas. It fails with NO_REASSIGNMENT_IN_PROGRESS when p is not
// moving, and when no original replica is in the ISR (the move can only
// go forward then).
func CancelReassignment(img *meta.Image, p meta.Placement) (meta.Placement, error) {
	if !p.Reassigning() {
		return p, fmt.Errorf("%w: replicas %v are not moving", kerr.NoReassignmentInProgress, p.Replicas)
	}
	next, ok := shrinkTo(img, p, p.Original())
	if !ok {
		return p, fmt.Errorf("%w: no original replica of %v is in the ISR %v and live to lead; the move can only complete",
			kerr.InvalidReplicaAssignment, p.Original(), p.ISR)
	}
	return next, nil
}

// shrinkTo ends a move with keep as the replicas: the ISR keeps its
// members in keep, and a leader outside keep hands over to the first live
// replica of keep in the ISR. An offline partition stays offline.
func shrinkTo(img *meta.Image, p meta.Placement, keep []int32) (meta.Placement, bool) {
	var isr []int32
	for _, r := range p.ISR {
		if slices.Contains(keep, r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == 0 {
		return p, false
	}
	next := clonePlacement(p)
	next.Replicas = slices.Clone(keep)
	next.ISR = isr
	next.Adding, next.Removing, next.From = nil, nil, nil
	next.PartitionEpoch++
	if p.Leader >= 0 && !slices.Contains(keep, p.Leader) {
		next.Leader = -1
		for _, r := range keep {
			if slices.Contains(isr, r) && img.Live(r) {
				next.Leader = r
				break
			}
		}
		if next.Leader == -1 {
			return p, false
		}
		next.LeaderEpoch++
	}
	return next, true
}

// CompleteReassignments returns the records that complete every move
// whose adding replicas are all in the ISR. Partition leaders complete
// their moves as they expand the ISR; the active controller runs this
// every tick too, so a move completes even when the last adding replica
// joined under a leader that died before it could.
func CompleteReassignments(img *meta.Image) []meta.Record {
	var recs []meta.Record
	for _, t := range img.Topics() {
		for i, p := range t.Placement {
			if next, ok := CompleteReassignment(img, p); ok {
				recs = append(recs, placementRecord(t.Name, int32(i), next))
			}
		}
	}
	return recs
}
