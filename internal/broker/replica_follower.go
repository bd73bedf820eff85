package broker

import (
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// appendFromLeader appends one batch copied from the leader, keeping its
// offsets and leader epoch, and applies it to producer and transaction
// state so that this replica can take over as leader with both intact.
func (p *Partition) appendFromLeader(batch []byte) error {
	h, control, err := log.ParseFollowerBatch(batch)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := p.log.AppendFollowerParsed(batch, h)
	if err != nil {
		return err
	}
	h.BaseOffset = res.BaseOffset
	if err := p.replayBatchLocked(h, control, time.Now()); err != nil {
		p.logTxnIndexError(err)
	}
	return nil
}

// truncateTo cuts the log back to offset (a follower whose log diverged
// from its new leader's) and rebuilds producer and transaction state from
// what is left, since batches past the cut may have moved sequences and
// transactions on.
func (p *Partition) truncateTo(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if offset >= p.log.EndOffset() {
		return nil
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return p.storageError("truncate", err)
	}
	p.producers = nil
	p.txns.ongoing = nil
	p.txns.ending = nil
	if p.txns.index != nil {
		if err := p.txns.index.TruncateTo(p.log.EndOffset()); err != nil {
			p.logTxnIndexError(err)
		}
	}
	if err := p.scanProducerState(nil); err != nil {
		p.logger.Error("cannot rebuild producer state after truncation", "err", err)
	}
	if hw := p.repl.hw.Load(); hw > p.log.EndOffset() {
		// Only possible if this node's log lost committed records (a
		// replaced disk); never report more than it holds.
		p.repl.hw.Store(p.log.EndOffset())
	}
	return nil
}

// setFollowerHW records the leader's high watermark, capped at what this
// replica holds.
func (p *Partition) setFollowerHW(leaderHW int64) {
	end := p.log.EndOffset()
	p.raiseHW(min(leaderHW, end))
	// For ferry_replica_fetch_lag: the leader's high watermark is the
	// nearest to its log end that a fetch response tells.
	p.traffic.fetchLag.Store(max(leaderHW-end, 0))
}

// restartEmptyAt makes an empty replica begin at the leader's log start
// when the leader no longer holds offset 0 (a replica a reassignment adds,
// of a partition whose head retention removed). It reports whether it did.
func (p *Partition) restartEmptyAt(leaderStart int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := p.log.EndOffset()
	if end != p.log.StartOffset() || leaderStart <= end {
		return false
	}
	if err := p.log.RestartEmptyAt(leaderStart); err != nil {
		p.logger.Error("cannot restart the empty replica at the leader's log start", "offset", leaderStart, "err", err)
		return false
	}
	p.producers = nil
	return true
}
