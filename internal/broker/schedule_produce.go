package broker

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/schedule"
)

// SchedulingEnabled reports whether the partition's topic has
// message.scheduling.enable=true, so produce must look at its headers.
func (p *Partition) SchedulingEnabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.config.SchedulingEnabled
}

// ScheduledAppend says where the scheduled part of a produced batch went:
// the produce must wait for Part up to UpTo as it waits for its partition.
// Part is nil when the batch held nothing to schedule.
type ScheduledAppend struct {
	Part *Partition
	UpTo int64
}

// AppendScheduling is Append for a topic with message.scheduling.enable.
// Records with a delivery header (schedule.HeaderDeliverAt or HeaderDelay)
// are stored in __scheduled, records with schedule.HeaderCancel cancel
// their key's scheduled records, and the others are appended to p as one
// batch, in order. A batch with none of those headers is appended as is.
//
// An idempotent producer's sequence counts the whole batch: the check and
// the bookkeeping use the batch as sent, so a retried batch is answered
// from the first attempt and nothing is scheduled twice. Scheduled records
// in a transaction are refused (INVALID_RECORD): a scheduled delivery
// cannot be rolled back.
//
// On a node that does not lead __scheduled-0 the scheduled records are
// forwarded to the node that does, within the producer's request (and
// under p.mu, so that a retried idempotent batch is not scheduled twice).
//
// Lock order: p.mu, then __scheduled's Partition.mu (the scheduler never
// holds the latter while appending to a target).
func (b *Broker) AppendScheduling(p *Partition, batch []byte) (AppendResult, ScheduledAppend, error) {
	var none ScheduledAppend
	plain := func() (AppendResult, ScheduledAppend, error) {
		res, err := p.Append(batch)
		return res, none, err
	}
	p.mu.Lock()
	maxBytes := p.config.MaxMessageBytes
	p.mu.Unlock()
	h, err := log.ParseBatch(batch)
	if err != nil || int64(len(batch)) > int64(maxBytes) {
		return plain() // Append reports the error
	}
	_, recs, err := log.DecodeRecords(batch)
	if err != nil {
		return plain()
	}
	now := time.Now()
	var immediate []log.Record
	var msgs []schedule.Message
	var cancels []schedule.Cancel
	for _, r := range recs {
		action, at, err := schedule.FromHeaders(r.Headers, r.Key, now)
		if err != nil {
			return AppendResult{}, none, err
		}
		switch action {
		case schedule.Immediate:
			immediate = append(immediate, r)
		case schedule.Delayed:
			msgs = append(msgs, schedule.Message{Topic: p.Topic, Partition: p.Index, Key: r.Key, Value: r.Value,
				Headers: r.Headers, Timestamp: time.UnixMilli(r.Timestamp), DeliverAt: at})
		case schedule.Cancelling:
			cancels = append(cancels, schedule.Cancel{Topic: p.Topic, Key: r.Key})
		}
	}
	if len(msgs) == 0 && len(cancels) == 0 {
		return plain()
	}
	if h.Attributes&attrTransactional != 0 {
		return AppendResult{}, none, fmt.Errorf("%w: scheduled and cancelling records cannot be part of a transaction", kerr.InvalidRecord)
	}
	// Stored here when this node runs the scheduler, else forwarded to
	// the node that does (schedule_remote.go).
	var sp *Partition
	forwardTo := int32(-1)
	if _, err := b.Scheduler(); err != nil {
		if forwardTo = b.scheduledLeader(); forwardTo < 0 || forwardTo == b.cfg.NodeID {
			return AppendResult{}, none, err
		}
	} else if sp, err = b.Partition(ScheduledTopic, 0); err != nil {
		return AppendResult{}, none, fmt.Errorf("%w: %v", kerr.NotCoordinator, err)
	}
	scheduled, err := schedule.EncodeBatch(msgs, cancels, now)
	if err != nil {
		return AppendResult{}, none, err
	}
	var rest []byte
	var restHeader log.BatchHeader
	if len(immediate) > 0 {
		rest = log.NewRecordBatch(immediate)
		parse := log.ParseBatch
		p.mu.Lock()
		if p.config.Log.CleanupPolicy.Compacts() {
			parse = log.ParseKeyedBatch
		}
		p.mu.Unlock()
		if restHeader, err = parse(rest); err != nil {
			return AppendResult{}, none, fmt.Errorf("%w: %v", kerr.InvalidRecord, err)
		}
	}
	return p.appendSplit(h, rest, restHeader, func() (ScheduledAppend, error) {
		if sp == nil {
			// Acknowledged by the leader with acks=all: nothing to wait for.
			return none, b.forwardScheduled(forwardTo, scheduled)
		}
		res, err := sp.Append(scheduled)
		if err != nil {
			return none, err
		}
		return ScheduledAppend{Part: sp, UpTo: res.LastOffset + 1}, nil
	})
}

// RefuseScheduledInTransaction refuses (INVALID_RECORD) a transactional
// batch, on a topic with message.scheduling.enable, that holds a record
// with a scheduling header: a scheduled delivery cannot be rolled back.
// Batches that do not parse are left to the append to refuse.
func RefuseScheduledInTransaction(batch []byte) error {
	_, recs, err := log.DecodeRecords(batch)
	if err != nil {
		return nil
	}
	for _, r := range recs {
		if action, _, err := schedule.FromHeaders(r.Headers, r.Key, time.Now()); err != nil || action != schedule.Immediate {
			return fmt.Errorf("%w: scheduled and cancelling records cannot be part of a transaction", kerr.InvalidRecord)
		}
	}
	return nil
}

// appendSplit stores a produced batch whose scheduled records store()
// writes elsewhere and whose other records are rest (nil if none), as one
// step for the producer's sequence.
func (p *Partition) appendSplit(sent log.BatchHeader, rest []byte, restHeader log.BatchHeader, store func() (ScheduledAppend, error)) (AppendResult, ScheduledAppend, error) {
	var none ScheduledAppend
	p.mu.Lock()
	defer p.mu.Unlock()
	if sent.ProducerID >= 0 {
		if dup, ok, err := p.checkSequenceLocked(sent); err != nil {
			return AppendResult{}, none, err
		} else if ok {
			return dup, none, nil
		}
	}
	sched, err := store()
	if err != nil {
		return AppendResult{}, none, err
	}
	end := p.log.EndOffset()
	res := AppendResult{BaseOffset: end, LastOffset: end - 1}
	if rest != nil {
		r, err := p.log.AppendParsed(rest, restHeader)
		if err != nil {
			// The scheduled part is stored; a retry schedules it again.
			return AppendResult{}, none, p.storageError("append", err)
		}
		p.traffic.recordsIn.Add(int64(restHeader.NumRecords))
		p.traffic.bytesIn.Add(int64(len(rest)))
		res = AppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset}
	}
	if sent.ProducerID >= 0 {
		p.recordSequenceResultLocked(sent, res)
	}
	return res, sched, nil
}
