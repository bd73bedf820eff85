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
// generation.
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
	_, _, err := c.memberLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
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
