package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
)

// Batch attribute bits.
const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

// partitionTxns is a partition's view of transactions: where each open one
// begins, ended ones whose markers are not yet below the high watermark,
// and the aborted-transaction index. Guarded by Partition.mu.
type partitionTxns struct {
	ongoing map[int64]int64 // producer id -> first offset
	ending  []endingTxn     // markers appended, maybe not yet visible
	index   *log.TxnIndex
	// markers counts the markers appended here, so that a transactional
	// append verified with the coordinator can tell whether a marker (its
	// transaction's end) slipped in meanwhile (AppendTransactional).
	markers uint64
}

type endingTxn struct {
	firstOffset, markerOffset int64
}

// trackLocked updates transaction state for an appended batch.
// REQUIRES: p.mu held.
func (p *Partition) trackTxnLocked(h log.BatchHeader, base, last int64, control int) error {
	if h.ProducerID < 0 || h.Attributes&attrTransactional == 0 {
		return nil
	}
	t := &p.txns
	if h.Attributes&attrControl == 0 {
		if t.ongoing == nil {
			t.ongoing = map[int64]int64{}
		}
		if _, ok := t.ongoing[h.ProducerID]; !ok {
			t.ongoing[h.ProducerID] = base
		}
		return nil
	}
	first, ok := t.ongoing[h.ProducerID]
	if !ok {
		return nil // a marker for a transaction with no data here
	}
	delete(t.ongoing, h.ProducerID)
	t.ending = append(t.ending, endingTxn{firstOffset: first, markerOffset: last})
	if control == log.ControlAbort && t.index != nil && !t.index.Has(last) {
		return t.index.Add(p.log.SegmentBase(last), log.AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: last})
	}
	return nil
}

// LastStableOffset is the offset below which every transaction has ended
// visibly: the first offset of the oldest open transaction (or of an ended
// one whose marker is not yet below the high watermark), else the high
// watermark.
func (p *Partition) LastStableOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastStableLocked()
}

// REQUIRES: p.mu held.
func (p *Partition) lastStableLocked() int64 {
	hw := p.HighWatermark()
	lso := hw
	for _, first := range p.txns.ongoing {
		lso = min(lso, first)
	}
	keep := p.txns.ending[:0]
	for _, e := range p.txns.ending {
		if e.markerOffset >= hw {
			keep = append(keep, e)
			lso = min(lso, e.firstOffset)
		}
	}
	clear(p.txns.ending[len(keep):])
	p.txns.ending = keep
	return lso
}

// ReadCommitted reads like Log.Read, but only below the last stable
// offset, and returns the aborted transactions that may have records in
// the range read.
func (p *Partition) ReadCommitted(offset int64, maxBytes int, minOneBatch bool) (log.Slice, int64, []log.AbortedTxn, error) {
	lso := p.LastStableOffset()
	s, err := p.log.ReadBelow(offset, maxBytes, minOneBatch, lso)
	if err != nil || s.Size == 0 || p.txns.index == nil {
		return s, lso, nil, err
	}
	return s, lso, p.txns.index.Aborted(offset, lso), nil
}

// WriteMarker appends a transaction marker (a control batch) for a
// producer and waits until it is durable. Only the transaction
// coordinator calls it; clients may not write control batches.
// On a replicated partition it also waits until the ISR holds the marker
// (Kafka appends markers with acks=all): a transaction the coordinator
// counts as complete must still be complete on whichever replica leads
// next, or its records would hold back read_committed consumers forever.
func (p *Partition) WriteMarker(producerID int64, epoch int16, commit bool) error {
	next, err := p.appendMarker(producerID, epoch, commit)
	if err != nil {
		return err
	}
	if err := p.Sync(next); err != nil {
		return err
	}
	return p.WaitReplicated(next, markerReplicationTimeout)
}

// markerReplicationTimeout bounds the wait for the ISR to copy a marker;
// past it the coordinator retries (a marker written twice is harmless).
const markerReplicationTimeout = 5 * time.Second

// appendMarker appends a marker and returns the offset after it, without
// waiting for durability.
func (p *Partition) appendMarker(producerID int64, epoch int16, commit bool) (int64, error) {
	batch := log.NewControlBatch(producerID, epoch, commit, 0, time.Now())
	h, err := log.ParseBatch(batch)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	if st, ok := p.producers[producerID]; ok && epoch < st.epoch {
		p.mu.Unlock()
		return 0, fmt.Errorf("%w: marker epoch %d is older than %d", kerr.InvalidProducerEpoch, epoch, st.epoch)
	}
	res, err := p.log.AppendParsed(batch, h)
	if err != nil {
		p.mu.Unlock()
		return 0, p.storageError("append transaction marker", err)
	}
	control := log.ControlAbort
	if commit {
		control = log.ControlCommit
	}
	// The marker moves the producer to its epoch here: older epochs are
	// fenced, and the next batch may start a new sequence.
	if st, ok := p.producers[producerID]; !ok || st.epoch != epoch {
		if p.producers == nil {
			p.producers = map[int64]*producerState{}
		}
		p.producers[producerID] = &producerState{epoch: epoch, lastSeen: time.Now()}
	}
	terr := p.trackTxnLocked(h, res.BaseOffset, res.LastOffset, control)
	p.txns.markers++
	p.mu.Unlock()
	if terr != nil {
		p.logTxnIndexError(terr)
	}
	return res.LastOffset + 1, nil
}

// TxnVerification says whether a transactional batch of a producer must be
// verified with the transaction coordinator before it is appended (KIP-890):
// yes unless the producer's transaction, at this epoch, already has
// records here (its first append was verified). The token goes to
// AppendTransactional.
func (p *Partition) TxnVerification(producerID int64, epoch int16) (token uint64, needed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txns.markers, !p.txnOngoingLocked(producerID, epoch)
}

// REQUIRES: p.mu held.
func (p *Partition) txnOngoingLocked(producerID int64, epoch int16) bool {
	if _, ok := p.txns.ongoing[producerID]; !ok {
		return false
	}
	st, ok := p.producers[producerID]
	return ok && st.epoch == epoch
}

// errTxnMarkerRace: a marker was appended between a transactional batch's
// verification and its append; the caller verifies again.
var errTxnMarkerRace = errors.New("a transaction marker was written while the batch was verified")

// AppendTransactional appends a transactional batch verified (when
// TxnVerification said so) with the coordinator since token was taken. If
// a marker landed here since then and the producer's transaction has no
// records here, the verified transaction may have ended meanwhile:
// appending would open a transaction the coordinator no longer knows, so
// it fails with errTxnMarkerRace and the caller verifies again. This is the
// dangling-transaction race KIP-890 closes.
func (p *Partition) AppendTransactional(batch []byte, token uint64) (AppendResult, error) {
	return p.appendChecked(batch, func(h log.BatchHeader) error {
		if p.txns.markers != token && !p.txnOngoingLocked(h.ProducerID, h.ProducerEpoch) {
			return errTxnMarkerRace
		}
		return nil
	})
}

func (p *Partition) logTxnIndexError(err error) {
	if p.logger != nil {
		p.logger.Error("txn index write failed; it is rebuilt from the log tail on the next open", "err", err)
	}
}

// producerScanSegments is how many of the last segments are scanned at
// open to rebuild producer and transaction state.
const producerScanSegments = 2

// rebuildTxnState rebuilds idempotence and transaction state from the
// batch headers of the log's last segments, and the aborted-transaction
// index entries for abort markers found there that the index lacks (a
// crash between the marker and the index write). A transaction still open
// whose first batch in those segments has no marker of its producer before
// it may have begun earlier: older segments are scanned, one at a time,
// until its start is found, so that the LSO and a later abort's index entry
// cover all of it.
// REQUIRES: exclusive access (called from openPartition).
func (p *Partition) rebuildTxnState(dir string) error {
	idx, err := log.OpenTxnIndex(dir, p.log.EndOffset())
	if err != nil {
		return err
	}
	p.txns.index = idx
	return p.scanProducerState(idx.Damaged())
}

// scanProducerState rebuilds producer and transaction state from the log
// tail (see rebuildTxnState); damaged lists index files whose lost entries
// must be found again.
// REQUIRES: exclusive access, or p.mu held with fresh state.
func (p *Partition) scanProducerState(damaged []log.TxnIndexDamage) error {
	scan := producerScanSegments
	for _, d := range damaged {
		// The aborted transactions whose entries were lost must be
		// found again, or read_committed consumers would see their
		// records: scan from the segment before the damaged one, where
		// such a transaction may have begun.
		n := p.log.SegmentsFrom(d.Base) + 1
		p.logger.Error("aborted-transaction index damaged; rebuilding its entries from the log",
			"file", d.File, "bad_entry_positions", d.Positions, "segments_scanned", n)
		scan = max(scan, n)
	}
	now := time.Now()
	// firstData: producers whose first batch in the scan is transactional
	// data, and its offset.
	seen := map[int64]bool{}
	firstData := map[int64]int64{}
	err := p.log.ScanTail(scan, func(h log.BatchHeader, control int) error {
		if h.ProducerID < 0 {
			return nil
		}
		if !seen[h.ProducerID] {
			seen[h.ProducerID] = true
			if h.Attributes&attrTransactional != 0 && h.Attributes&attrControl == 0 {
				firstData[h.ProducerID] = h.BaseOffset
			}
		}
		return p.replayBatchLocked(h, control, now)
	})
	if err != nil {
		return err
	}
	// Open transactions that may have begun before the scanned segments.
	unsure := map[int64]bool{}
	for id, first := range firstData {
		if p.txns.ongoing[id] == first {
			unsure[id] = true
		}
	}
	for skip := scan; len(unsure) > 0; skip++ {
		// In this (older) segment: where each unsure producer's last
		// transaction run begins (-1 after a marker), and whether it
		// ended there.
		start := map[int64]int64{}
		ended := map[int64]bool{}
		ok, err := p.log.ScanSegmentBefore(skip, func(h log.BatchHeader, _ int) error {
			if !unsure[h.ProducerID] {
				return nil
			}
			switch {
			case h.Attributes&attrControl != 0 || h.Attributes&attrTransactional == 0:
				ended[h.ProducerID] = true
				start[h.ProducerID] = -1
			default:
				if s, ok := start[h.ProducerID]; !ok || s < 0 {
					start[h.ProducerID] = h.BaseOffset
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !ok {
			break // the log's first segment was scanned
		}
		for id, s := range start {
			if s >= 0 {
				p.txns.ongoing[id] = s
			}
		}
		for id := range ended {
			delete(unsure, id)
		}
	}
	return nil
}

// replayBatchLocked applies a batch already in the log (found at open, or
// copied from the leader) to producer and transaction state.
// REQUIRES: p.mu held (or exclusive access).
func (p *Partition) replayBatchLocked(h log.BatchHeader, control int, now time.Time) error {
	if h.ProducerID < 0 {
		return nil
	}
	if h.Attributes&attrControl == 0 {
		st, ok := p.producers[h.ProducerID]
		if ok && h.ProducerEpoch < st.epoch {
			return nil
		}
		p.recordSequenceLocked(h, h.BaseOffset)
	} else if st, ok := p.producers[h.ProducerID]; !ok || st.epoch != h.ProducerEpoch {
		if p.producers == nil {
			p.producers = map[int64]*producerState{}
		}
		p.producers[h.ProducerID] = &producerState{epoch: h.ProducerEpoch}
	}
	p.producers[h.ProducerID].lastSeen = now
	return p.trackTxnLocked(h, h.BaseOffset, h.LastOffset(), control)
}

// expireProducers forgets producers idle for longer than ttl that have no
// open transaction here (producer.id.expiration.ms).
func (p *Partition) expireProducers(now time.Time, ttl time.Duration) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, st := range p.producers {
		if _, open := p.txns.ongoing[id]; open {
			continue
		}
		if now.Sub(st.lastSeen) > ttl {
			delete(p.producers, id)
			n++
		}
	}
	return n
}
