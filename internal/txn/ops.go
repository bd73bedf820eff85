package txn

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkLocked finds a transaction and checks the producer id and epoch a
// request carries. Errors are Kafka's: an unknown id or another producer id
// is INVALID_PRODUCER_ID_MAPPING, an older epoch PRODUCER_FENCED (handlers
// turn it into INVALID_PRODUCER_EPOCH for old request versions), a newer one
// INVALID_PRODUCER_EPOCH.
// REQUIRES: c.mu held.
func (c *Coordinator) checkLocked(id string, producerID int64, epoch int16) (*txn, *kerr.Error) {
	if c.closed {
		return nil, kerr.NotCoordinator
	}
	if id == "" {
		return nil, kerr.InvalidRequest
	}
	t := c.txns[id]
	if t == nil || t.producerID != producerID {
		return nil, kerr.InvalidProducerIDMapping
	}
	if epoch < t.epoch {
		return nil, kerr.ProducerFenced
	}
	if epoch > t.epoch {
		return nil, kerr.InvalidProducerEpoch
	}
	return t, nil
}

// bumpLocked gives t its next epoch, or a new producer id when the epoch
// is exhausted.
// REQUIRES: c.mu held.
func (c *Coordinator) bumpLocked(t *txn) error {
	if t.epoch < math.MaxInt16 {
		t.epoch++
		return nil
	}
	id, err := c.opts.NewProducerID()
	if err != nil {
		return err
	}
	t.producerID, t.epoch = id, 0
	return nil
}

// InitProducerID initializes (or re-initializes, fencing the previous
// producer) a transactional id. producerID and epoch are the caller's
// current ones (KIP-360), or -1. An open transaction is aborted first.
func (c *Coordinator) InitProducerID(id string, timeoutMillis int32, producerID int64, epoch int16) (int64, int16, *kerr.Error) {
	timeout := time.Duration(timeoutMillis) * time.Millisecond
	if timeoutMillis <= 0 || timeout > c.cfg.MaxTimeout {
		return -1, -1, kerr.InvalidTransactionTimeout
	}
	if id == "" {
		return -1, -1, kerr.InvalidRequest
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return -1, -1, kerr.NotCoordinator
	}
	now := c.now()
	t := c.txns[id]
	abort := false
	switch {
	case t == nil:
		pid, err := c.opts.NewProducerID()
		if err != nil {
			c.mu.Unlock()
			c.opts.Logger.Error("init producer id: allocate", "err", err)
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		t = &txn{id: id, producerID: pid, epoch: 0, state: stateEmpty, partitions: map[tp]struct{}{}}
		c.txns[id] = t
	case t.state == statePrepareCommit || t.state == statePrepareAbort || t.completing:
		c.mu.Unlock()
		return -1, -1, kerr.ConcurrentTransactions
	case producerID >= 0 && (producerID != t.producerID || epoch != t.epoch):
		// KIP-360: only the current producer may re-initialize with its id.
		c.mu.Unlock()
		return -1, -1, kerr.ProducerFenced
	default:
		if err := c.bumpLocked(t); err != nil {
			c.mu.Unlock()
			c.opts.Logger.Error("init producer id: allocate", "err", err)
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		if t.state == stateOngoing {
			// A new producer instance: abort what the old one left open,
			// with the new epoch so the old one is fenced everywhere.
			t.state = statePrepareAbort
			abort = true
		} else {
			t.state = stateEmpty
			t.partitions = map[tp]struct{}{}
		}
	}
	t.timeout = timeout
	t.updated = now
	t.bumpedEnd = false
	next, err := c.appendLocked([]kv{stateRecord(t)})
	pid, ep := t.producerID, t.epoch
	c.mu.Unlock()
	if kerrr := c.syncOrFail(next, err, "init producer id"); kerrr != nil {
		return -1, -1, kerrr
	}
	if abort {
		c.opts.Logger.Info("fenced previous producer; aborting its transaction", "transactional_id", id, "producer_id", pid, "epoch", ep)
		if !c.complete(t) {
			return -1, -1, kerr.ConcurrentTransactions
		}
	}
	return pid, ep, nil
}

func (c *Coordinator) syncOrFail(next int64, err error, what string) *kerr.Error {
	if err == nil && next > 0 {
		err = c.log.Sync(next)
	}
	if err != nil {
		c.opts.Logger.Error(what+": write to transaction log failed", "err", err)
		return kerr.CoordinatorNotAvailable
	}
	return nil
}

// Partition is one partition named in AddPartitionsToTxn.
type Partition struct {
	Topic     string
	Partition int32
}

// AddPartitions adds partitions to the producer's transaction, starting
// one if none is open. A non-nil error applies to every partition; else
// the map holds per-partition errors (an unknown partition fails the
// request, the others are OPERATION_NOT_ATTEMPTED).
func (c *Coordinator) AddPartitions(id string, producerID int64, epoch int16, parts []Partition) (map[Partition]*kerr.Error, *kerr.Error) {
	var bad map[Partition]*kerr.Error
	for _, p := range parts {
		if p.Topic == c.opts.OffsetsTopic || c.opts.Partitions != nil && !c.opts.Partitions.Exists(p.Topic, p.Partition) {
			if bad == nil {
				bad = map[Partition]*kerr.Error{}
			}
			bad[p] = kerr.UnknownTopicOrPartition
		}
	}
	if bad != nil {
		for _, p := range parts {
			if bad[p] == nil {
				bad[p] = kerr.OperationNotAttempted
			}
		}
		return bad, nil
	}
	tps := make([]tp, len(parts))
	for i, p := range parts {
		tps[i] = tp{p.Topic, p.Partition}
	}
	return nil, c.add(id, producerID, epoch, tps)
}

// AddOffsets adds the group's offsets partition to the transaction, so
// that TxnOffsetCommit may follow.
func (c *Coordinator) AddOffsets(id string, producerID int64, epoch int16, group string) *kerr.Error {
	if group == "" {
		return kerr.InvalidGroupID
	}
	return c.add(id, producerID, epoch, []tp{{c.opts.OffsetsTopic, c.offsetsPartition(group)}})
}

func (c *Coordinator) offsetsPartition(group string) int32 {
	if c.opts.OffsetsPartition == nil {
		return 0
	}
	return c.opts.OffsetsPartition(group)
}

func (c *Coordinator) add(id string, producerID int64, epoch int16, tps []tp) *kerr.Error {
	c.mu.Lock()
	t, kerrr := c.checkLocked(id, producerID, epoch)
	if kerrr != nil {
		c.mu.Unlock()
		return kerrr
	}
	if !idle(t.state) && t.state != stateOngoing || t.completing {
		c.mu.Unlock()
		return kerr.ConcurrentTransactions
	}
	now := c.now()
	changed := false
	if t.state != stateOngoing {
		t.state = stateOngoing
		t.bumpedEnd = false // the last EndTxn is no longer retried
		t.partitions = map[tp]struct{}{}
		t.legacyPending = nil
		t.started = now
		changed = true
	}
	for _, p := range tps {
		if _, ok := t.partitions[p]; !ok {
			t.partitions[p] = struct{}{}
			changed = true
		}
	}
	var next int64
	var err error
	if changed {
		t.updated = now
		next, err = c.appendLocked([]kv{stateRecord(t)})
	}
	c.mu.Unlock()
	return c.syncOrFail(next, err, "add to transaction")
}

// InTransaction reports whether a transactional produce to a partition is
// allowed: the producer is current and added the partition to its open
// transaction. Errors are Kafka's for Produce.
func (c *Coordinator) InTransaction(id string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error {
	kerrr := c.Verify(id, producerID, epoch, topic, partition)
	if kerrr == kerr.ProducerFenced {
		return kerr.InvalidProducerEpoch
	}
	return kerrr
}

// Verify answers KIP-890's question of a partition leader or group
// coordinator: is the partition in the producer's open transaction? Errors
// are the coordinator's: PRODUCER_FENCED for an older epoch,
// INVALID_TXN_STATE when no transaction is open or it lacks the partition.
func (c *Coordinator) Verify(id string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, kerrr := c.checkLocked(id, producerID, epoch)
	switch {
	case kerrr != nil:
		return kerrr
	case t.state != stateOngoing || t.completing:
		return kerr.InvalidTxnState
	}
	if _, ok := t.partitions[tp{topic, partition}]; !ok {
		return kerr.InvalidTxnState
	}
	return nil
}

// VerifyOffsets is Verify for the group's partition of __consumer_offsets:
// whether TxnOffsetCommit may add offsets of the group to the transaction.
func (c *Coordinator) VerifyOffsets(id string, producerID int64, epoch int16, group string) *kerr.Error {
	return c.Verify(id, producerID, epoch, c.opts.OffsetsTopic, c.offsetsPartition(group))
}

// EndTxn commits or aborts the producer's transaction: the decision is
// written to the transaction log, then markers go to every partition
// (including the groups' partitions of __consumer_offsets, which makes
// their pending offsets visible or drops them); it returns when all are
// durable. Repeating the EndTxn that completed the last transaction
// succeeds.
func (c *Coordinator) EndTxn(id string, producerID int64, epoch int16, commit bool) *kerr.Error {
	_, _, err := c.endTxn(id, producerID, epoch, commit, false)
	return err
}

// EndTxnBumping is EndTxn v5 (KIP-890 part 2): every end bumps the
// producer's epoch (a new producer id when it would overflow) before the
// markers are written with it, so nothing the producer sent with the old
// epoch can land in its next transaction. It returns the producer id and
// epoch for the next transaction. A retry with the previous epoch of the
// EndTxn that completed the last transaction succeeds with the current
// ones.
func (c *Coordinator) EndTxnBumping(id string, producerID int64, epoch int16, commit bool) (int64, int16, *kerr.Error) {
	return c.endTxn(id, producerID, epoch, commit, true)
}

func (c *Coordinator) endTxn(id string, producerID int64, epoch int16, commit, bump bool) (int64, int16, *kerr.Error) {
	prepare, complete := kmsg.TransactionState(statePrepareAbort), kmsg.TransactionState(stateCompleteAbort)
	if commit {
		prepare, complete = statePrepareCommit, stateCompleteCommit
	}
	c.mu.Lock()
	if t := c.txns[id]; bump && t != nil && !c.closed && t.bumpedEnd && t.isPreviousEpoch(producerID, epoch) {
		// A retry of the EndTxn that bumped the epoch.
		pid, ep := t.producerID, t.epoch
		state, completing := t.state, t.completing
		c.mu.Unlock()
		switch {
		case state == complete && !completing:
			return pid, ep, nil
		case state == prepare:
			return -1, -1, kerr.ConcurrentTransactions
		}
		return -1, -1, kerr.InvalidTxnState
	}
	t, kerrr := c.checkLocked(id, producerID, epoch)
	if kerrr != nil {
		c.mu.Unlock()
		return -1, -1, kerrr
	}
	switch {
	case t.state == prepare:
		c.mu.Unlock()
		return -1, -1, kerr.ConcurrentTransactions
	case t.state == complete && !t.completing && !bump:
		c.mu.Unlock()
		return -1, -1, nil // a retry of the EndTxn that ended it
	case t.state != stateOngoing || t.completing:
		c.mu.Unlock()
		return -1, -1, kerr.InvalidTxnState
	}
	t.bumpedEnd = false
	// At the last epoch the bump would be a new producer id, and markers
	// under it would not end what the old id wrote: this one end keeps
	// the epoch (v4 semantics); the next InitProducerId moves to a new id.
	if bump && t.epoch < math.MaxInt16 {
		prevPID := t.producerID
		if err := c.bumpLocked(t); err != nil {
			c.mu.Unlock()
			c.opts.Logger.Error("end transaction: allocate", "err", err)
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		t.bumpedEnd, t.prevProducerID = true, prevPID
	}
	t.state = prepare
	t.updated = c.now()
	next, err := c.appendLocked([]kv{stateRecord(t)})
	pid, ep := t.producerID, t.epoch
	c.mu.Unlock()
	if kerrr := c.syncOrFail(next, err, "end transaction"); kerrr != nil {
		return -1, -1, kerrr
	}
	if !c.complete(t) {
		// The decision is durable; Tick finishes the markers.
		return -1, -1, kerr.ConcurrentTransactions
	}
	return pid, ep, nil
}

// complete writes the markers (and on commit the offsets) of a transaction
// in a Prepare state and moves it to Complete. It returns false if some
// write failed; the transaction stays in its Prepare state and Tick tries
// again.
func (c *Coordinator) complete(t *txn) bool {
	c.mu.Lock()
	if t.completing || (t.state != statePrepareCommit && t.state != statePrepareAbort) {
		c.mu.Unlock()
		return false
	}
	t.completing = true
	commit := t.state == statePrepareCommit
	parts := t.sortedPartitions()
	pending := t.legacyPending
	pid, epoch := t.producerID, t.epoch
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	ok := c.writeMarkers(t.id, parts, pid, epoch, commit)
	if ok && commit && c.opts.LegacyOffsets != nil {
		for _, req := range pending {
			if err := c.opts.LegacyOffsets.CommitTxnOffsets(req); err != nil {
				c.opts.Logger.Error("commit transactional offsets", "transactional_id", t.id, "group", req.Group, "err", err)
				ok = false
				break
			}
		}
	}

	c.mu.Lock()
	t.completing = false
	if !ok {
		c.mu.Unlock()
		return false
	}
	if commit {
		t.state = stateCompleteCommit
	} else {
		t.state = stateCompleteAbort
	}
	t.partitions = map[tp]struct{}{}
	t.legacyPending = nil
	t.updated = c.now()
	next, err := c.appendLocked([]kv{stateRecord(t)})
	c.mu.Unlock()
	if c.opts.OnEnd != nil {
		c.opts.OnEnd(commit)
	}
	// Losing this record only means the markers are written again after a
	// restart, which readers tolerate.
	return c.syncOrFail(next, err, "complete transaction") == nil
}

// writeMarkers writes the markers of one transaction, to all its
// partitions at once: in a cluster each may be a round trip to another
// broker and its fsync. It reports whether every one was written.
func (c *Coordinator) writeMarkers(id string, parts []tp, pid int64, epoch int16, commit bool) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.opts.Partitions.WriteMarker(p.topic, p.partition, pid, epoch, commit); err != nil {
				c.opts.Logger.Error("write transaction marker", "transactional_id", id, "topic", p.topic, "partition", p.partition, "err", err)
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
}

// retryLocked lists transactions whose completion failed earlier.
// REQUIRES: c.mu held.
func (c *Coordinator) retryLocked() []*txn {
	var out []*txn
	for _, t := range c.txns {
		if !t.completing && (t.state == statePrepareCommit || t.state == statePrepareAbort) {
			out = append(out, t)
		}
	}
	return out
}

// Described is one transaction as DescribeTransactions and
// ListTransactions report it.
type Described struct {
	ID         string
	ProducerID int64
	Epoch      int16
	State      string
	Timeout    time.Duration
	Started    time.Time // zero unless a transaction is open
	Partitions []Partition
}

// Describe returns a transactional id's state, or false if unknown.
func (c *Coordinator) Describe(id string) (Described, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.txns[id]
	if t == nil {
		return Described{}, false
	}
	return describe(t), true
}

func describe(t *txn) Described {
	d := Described{ID: t.id, ProducerID: t.producerID, Epoch: t.epoch, State: StateName(t.state), Timeout: t.timeout}
	if t.state == stateOngoing || t.state == statePrepareCommit || t.state == statePrepareAbort {
		d.Started = t.started
	}
	for _, p := range t.sortedPartitions() {
		d.Partitions = append(d.Partitions, Partition{p.topic, p.partition})
	}
	return d
}

// List returns every transactional id's state.
func (c *Coordinator) List() []Described {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Described, 0, len(c.txns))
	for _, t := range c.txns {
		out = append(out, describe(t))
	}
	return out
}
