package group

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// Offsets committed inside a transaction (TxnOffsetCommit), as Kafka keeps
// them: the group coordinator appends them to __consumer_offsets as a
// transactional batch (the producer's id and epoch in its header) and holds
// them as pending, invisible to OffsetFetch, until the transaction
// coordinator's marker for that producer reaches this partition
// (CompleteTxn): a commit marker makes them the group's committed offsets
// (unless a plain commit written after them is newer), an abort marker
// drops them. Load replays the same: a transactional batch's offsets are
// pending until a control batch of its producer follows.

// MarkerLog is a Log that also appends transaction markers; the broker's
// partition refuses control batches in Append (clients may not write
// them). A Log without it gets the marker through Append.
type MarkerLog interface {
	AppendMarker(producerID int64, epoch int16, commit bool) (next int64, err error)
}

// pendingTxn is what one producer's open transaction committed here:
// offsets by group, each with the log end of its batch.
type pendingTxn map[string]map[topicPartition]committedOffset

// maxTxnCommitAttempts bounds how often TxnOffsetCommit verifies again
// because a marker was written while it verified.
const maxTxnCommitAttempts = 5

// ValidateTxnMember applies the membership checks of TxnOffsetCommit v3+:
// generation -1 with no member id (and v0-2 requests) skips them, as in
// Kafka; otherwise the member must belong to the group's current
// generation (classic groups) or be a member at that epoch (KIP-848
// consumer groups).
func (c *Coordinator) ValidateTxnMember(req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.validateTxnMemberLocked(req)
}

// REQUIRES: c.mu held.
func (c *Coordinator) validateTxnMemberLocked(req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
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

// TxnOffsetCommit stores the offsets of a TxnOffsetCommit as pending for
// the producer's transaction and returns once they are durable. verify asks
// the transaction coordinator whether this group's offsets are in the
// producer's open transaction (AddOffsetsToTxn came first); it runs
// without the coordinator's lock, and if a transaction marker is written
// here meanwhile it runs again, so that offsets are never left pending for
// a transaction that already ended (KIP-890's race, as for produce).
func (c *Coordinator) TxnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, verify func() *kerr.Error) *kerr.Error {
	for range maxTxnCommitAttempts {
		c.mu.Lock()
		token := c.txnMarkers
		c.mu.Unlock()
		if verify != nil {
			if err := verify(); err != nil {
				return err
			}
		}
		next, kerrr, raced := c.appendTxnOffsets(req, token)
		if raced {
			continue
		}
		if kerrr != nil || next == 0 {
			return kerrr
		}
		if err := c.log.Sync(next); err != nil {
			c.logger.Error("txn offset commit: sync failed", "group", req.Group, "err", err)
			c.dropPendingBatch(req.ProducerID, req.Group, next)
			return kerr.CoordinatorNotAvailable
		}
		return nil
	}
	return kerr.ConcurrentTransactions
}

// appendTxnOffsets validates and appends the offsets and records them as
// pending, unless a marker was written since token (raced).
func (c *Coordinator) appendTxnOffsets(req *kmsg.TxnOffsetCommitRequest, token uint64) (next int64, _ *kerr.Error, raced bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txnMarkers != token {
		return 0, nil, true
	}
	if kerrr := c.validateTxnMemberLocked(req); kerrr != nil {
		return 0, kerrr, false
	}
	now := c.now()
	var recs []kv
	offsets := map[topicPartition]committedOffset{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			o := committedOffset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, committed: now}
			if req.Version < 2 {
				o.leaderEpoch = -1
			}
			if rp.Metadata != nil {
				o.metadata = *rp.Metadata
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			recs = append(recs, offsetRecord(req.Group, tp, o))
			offsets[tp] = o
		}
	}
	if len(recs) == 0 {
		return 0, nil, false
	}
	next, err := c.log.Append(log.NewTransactionalBatch(recs, now, req.ProducerID, req.ProducerEpoch))
	if err != nil {
		c.logger.Error("txn offset commit: write failed", "group", req.Group, "err", err)
		return 0, kerr.CoordinatorNotAvailable, false
	}
	c.nextOffset = next
	for tp, o := range offsets {
		o.logEnd = next
		c.addPendingLocked(req.ProducerID, req.Group, tp, o)
	}
	return next, nil, false
}

// REQUIRES: c.mu held.
func (c *Coordinator) addPendingLocked(producerID int64, groupID string, tp topicPartition, o committedOffset) {
	if c.pendingTxns == nil {
		c.pendingTxns = map[int64]pendingTxn{}
	}
	p := c.pendingTxns[producerID]
	if p == nil {
		p = pendingTxn{}
		c.pendingTxns[producerID] = p
	}
	if p[groupID] == nil {
		p[groupID] = map[topicPartition]committedOffset{}
	}
	p[groupID][tp] = o
}

// dropPendingBatch forgets the offsets of a batch whose fsync failed (the
// client was told the commit failed, and aborts).
func (c *Coordinator) dropPendingBatch(producerID int64, groupID string, logEnd int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp, o := range c.pendingTxns[producerID][groupID] {
		if o.logEnd == logEnd {
			delete(c.pendingTxns[producerID][groupID], tp)
		}
	}
}

// CompleteTxn writes a producer's transaction marker to the log and, once
// it is durable, makes the producer's pending offsets visible (commit) or
// drops them (abort). The transaction coordinator's marker for this
// partition arrives here (WriteTxnMarkers); writing the same marker twice
// is harmless.
func (c *Coordinator) CompleteTxn(producerID int64, epoch int16, commit bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return kerr.NotCoordinator
	}
	var next int64
	var err error
	if ml, ok := c.log.(MarkerLog); ok {
		next, err = ml.AppendMarker(producerID, epoch, commit)
	} else {
		next, err = c.log.Append(log.NewControlBatch(producerID, epoch, commit, 0, c.now()))
	}
	if err == nil {
		c.nextOffset = next
		// A TxnOffsetCommit verifying meanwhile verifies again.
		c.txnMarkers++
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.log.Sync(next); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyMarkerLocked(producerID, commit)
	return nil
}

// applyMarkerLocked ends a producer's pending offsets: committed ones
// replace a group's offset unless a newer one was written after them.
// REQUIRES: c.mu held.
func (c *Coordinator) applyMarkerLocked(producerID int64, commit bool) {
	p := c.pendingTxns[producerID]
	delete(c.pendingTxns, producerID)
	if !commit {
		return
	}
	for groupID, offsets := range p {
		g := c.groups[groupID]
		if g == nil {
			g = newGroup(groupID, c.now())
			c.groups[groupID] = g
		}
		for tp, o := range offsets {
			if cur, ok := g.offsets[tp]; !ok || cur.logEnd < o.logEnd {
				g.offsets[tp] = o
			}
		}
	}
}

// PendingOffsets reports the partitions of a group with offsets committed
// inside a transaction that has not ended: OffsetFetch with require_stable
// answers UNSTABLE_OFFSET_COMMIT for them.
func (c *Coordinator) PendingOffsets(groupID string) map[string]map[int32]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingOffsetsLocked(groupID)
}

// REQUIRES: c.mu held.
func (c *Coordinator) pendingOffsetsLocked(groupID string) map[string]map[int32]bool {
	var out map[string]map[int32]bool
	for _, p := range c.pendingTxns {
		for tp := range p[groupID] {
			if out == nil {
				out = map[string]map[int32]bool{}
			}
			if out[tp.topic] == nil {
				out[tp.topic] = map[int32]bool{}
			}
			out[tp.topic][tp.partition] = true
		}
	}
	return out
}

// replayTxnRecord applies a record of a transactional batch at load: an
// offset becomes pending for the batch's producer, a marker ends them.
// REQUIRES: c.mu held.
func (c *Coordinator) replayTxnRecord(h log.BatchHeader, key, value []byte) error {
	if h.IsControl() {
		if len(key) < 4 {
			return errors.New("control record key too short")
		}
		c.applyMarkerLocked(h.ProducerID, int16(binary.BigEndian.Uint16(key[2:])) == log.ControlCommit)
		return nil
	}
	if len(key) < 2 || int16(binary.BigEndian.Uint16(key)) > 1 || value == nil {
		return nil // only offsets are written in transactions
	}
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		return err
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return err
	}
	epoch := int32(-1)
	if v.Version >= 3 {
		epoch = v.LeaderEpoch
	}
	o := committedOffset{offset: v.Offset, leaderEpoch: epoch, metadata: v.Metadata, committed: time.UnixMilli(v.CommitTimestamp), logEnd: h.LastOffset() + 1}
	c.addPendingLocked(h.ProducerID, k.Group, topicPartition{k.Topic, k.Partition}, o)
	return nil
}

// CommitTxnOffsets makes offsets visible in the group at once, whatever
// its membership is now, and returns once they are durable. Only
// transactions that a Ferry before pending offsets moved here recorded in
// __transaction_state (its record type 100) end this way, when the
// transaction coordinator completes them after an upgrade.
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
