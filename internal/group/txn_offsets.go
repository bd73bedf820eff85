package group

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets committed inside a transaction (TxnOffsetCommit) are held by the
// transaction coordinator (internal/txn) until the transaction commits;
// these two entry points are its way in.

// ValidateTxnMember applies the membership checks of TxnOffsetCommit v3+:
// generation -1 with no member id (and v0-2 requests) skips them, as in
// Kafka; otherwise the member must belong to the group's current
// generation (classic groups) or be a member at that epoch (KIP-848
// consumer groups).
func (c *Coordinator) ValidateTxnMember(req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return kerr.NotCoordinator
	}
	if req.Group == "" {
		return kerr.InvalidGroupID
	}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if !c.exists(rt.Topic, rp.Partition) {
				return kerr.UnknownTopicOrPartition
			}
			if rp.Metadata != nil && len(*rp.Metadata) > c.cfg.MaxMetadataBytes {
				return kerr.OffsetMetadataTooLarge
			}
		}
	}
	if req.Version < 3 || (req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil) {
		return nil
	}
	if g := c.groups[req.Group]; g != nil && g.consumer != nil {
		return consumerTxnMember(g.consumer, req)
	}
	_, _, err := c.memberLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	return err
}

// consumerTxnMember checks a TxnOffsetCommit against a KIP-848 group: the
// generation is the member epoch, as for OffsetCommit. A stale epoch is
// ILLEGAL_GENERATION here, as Kafka answers TxnOffsetCommit (clients take
// both as "abort and retry"). Without these checks every transactional
// commit of a KIP-848 member was refused (UNKNOWN_MEMBER_ID: the classic
// member list is empty), so each transaction aborted and was retried
// forever.
func consumerTxnMember(cg *consumerGroup, req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
	if req.Generation < 0 && len(cg.members) == 0 {
		return nil
	}
	parts := func(yield func(string, int32) bool) {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if !yield(t.Topic, p.Partition) {
					return
				}
			}
		}
	}
	err := cg.checkCommitter(req.MemberID, req.InstanceID, req.Generation, parts)
	if err == kerr.StaleMemberEpoch {
		return kerr.IllegalGeneration
	}
	return err
}

// CommitTxnOffsets makes a committed transaction's offsets visible in the
// group, whatever its membership is now (the transaction's commit decision
// is already durable), and returns once they are durable. The group is
// created if it does not exist.
func (c *Coordinator) CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	type written struct {
		tp topicPartition
		o  committedOffset
	}
	var toApply []written
	var recs []kv
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("group: coordinator closed")
	}
	now := c.now()
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			o := committedOffset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, committed: now}
			if rp.Metadata != nil {
				o.metadata = *rp.Metadata
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			recs = append(recs, offsetRecord(req.Group, tp, o))
			toApply = append(toApply, written{tp, o})
		}
	}
	next, err := c.appendLocked(recs)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if next == 0 {
		return nil
	}
	if err := c.log.Sync(next); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[req.Group]
	if g == nil {
		g = newGroup(req.Group, now)
		c.groups[req.Group] = g
	}
	for _, w := range toApply {
		w.o.logEnd = next
		if cur, ok := g.offsets[w.tp]; !ok || cur.logEnd < next {
			g.offsets[w.tp] = w.o
		}
	}
	return nil
}
