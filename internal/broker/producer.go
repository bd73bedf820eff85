package broker

import (
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/meta"
)

// recentBatches is how many batches per producer are remembered for
// duplicate detection: clients keep at most five in flight.
const recentBatches = 5

// producerState is what a partition remembers of one idempotent producer.
type producerState struct {
	epoch    int16
	lastSeen time.Time                // for producer.id.expiration.ms
	recent   [recentBatches]sentBatch // ring, newest at (next-1)
	next     int
	count    int
}

type sentBatch struct {
	firstSeq, lastSeq      int32
	baseOffset, lastOffset int64
}

func (s *producerState) newest() sentBatch {
	return s.recent[(s.next+recentBatches-1)%recentBatches]
}

// checkSequenceLocked applies Kafka's idempotence rules to a batch from a
// producer id. It returns the original result for a duplicate.
// REQUIRES: p.mu held.
func (p *Partition) checkSequenceLocked(h log.BatchHeader) (AppendResult, bool, error) {
	st, ok := p.producers[h.ProducerID]
	if !ok || st.count == 0 {
		// Unknown producer (new, or its state predates a restart): take
		// its sequence as the starting point.
		return AppendResult{}, false, nil
	}
	switch {
	case h.ProducerEpoch < st.epoch:
		return AppendResult{}, false, fmt.Errorf("%w: epoch %d is older than %d", kerr.InvalidProducerEpoch, h.ProducerEpoch, st.epoch)
	case h.ProducerEpoch > st.epoch:
		if h.BaseSequence != 0 {
			return AppendResult{}, false, fmt.Errorf("%w: new epoch %d must start at sequence 0, got %d", kerr.OutOfOrderSequenceNumber, h.ProducerEpoch, h.BaseSequence)
		}
		return AppendResult{}, false, nil
	}
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	for i := 0; i < st.count; i++ {
		sb := st.recent[i]
		if sb.firstSeq == h.BaseSequence && sb.lastSeq == lastSeq {
			return AppendResult{BaseOffset: sb.baseOffset, LastOffset: sb.lastOffset}, true, nil
		}
	}
	if want := st.newest().lastSeq + 1; h.BaseSequence != want && !(want < 0 && h.BaseSequence == 0) {
		return AppendResult{}, false, fmt.Errorf("%w: expected sequence %d, got %d", kerr.OutOfOrderSequenceNumber, want, h.BaseSequence)
	}
	return AppendResult{}, false, nil
}

// recordSequenceLocked remembers an appended batch.
// REQUIRES: p.mu held.
func (p *Partition) recordSequenceLocked(h log.BatchHeader, baseOffset int64) {
	p.recordSequenceResultLocked(h, AppendResult{BaseOffset: baseOffset, LastOffset: baseOffset + int64(h.LastOffsetDelta)})
}

// recordSequenceResultLocked remembers a batch that was answered with res,
// which need not span the batch's records (a batch whose scheduled records
// went to __scheduled): a retry gets the same answer.
// REQUIRES: p.mu held.
func (p *Partition) recordSequenceResultLocked(h log.BatchHeader, res AppendResult) {
	if p.producers == nil {
		p.producers = map[int64]*producerState{}
	}
	st, ok := p.producers[h.ProducerID]
	if !ok || h.ProducerEpoch != st.epoch {
		st = &producerState{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = st
	}
	st.recent[st.next] = sentBatch{
		firstSeq:   h.BaseSequence,
		lastSeq:    h.BaseSequence + h.LastOffsetDelta,
		baseOffset: res.BaseOffset,
		lastOffset: res.LastOffset,
	}
	st.lastSeen = time.Now()
	st.next = (st.next + 1) % recentBatches
	if st.count < recentBatches {
		st.count++
	}
}

// producerIDBlock is how many ids one metadata record reserves.
const producerIDBlock = 1000

// producerIDAllocator hands out producer ids from blocks reserved in the
// metadata log, so no id is reused after a restart.
type producerIDAllocator struct {
	b    *Broker
	mu   sync.Mutex
	next int64
	end  int64
}

// NewProducerID returns an id no producer has had.
func (b *Broker) NewProducerID() (int64, error) {
	a := &b.producerIDs
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.end {
		var start int64
		_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
			start = img.NextProducerID
			return []meta.Record{{ProducerID: &meta.ProducerIDBlockRecord{Next: start + producerIDBlock}}}, nil
		})
		if err != nil {
			return 0, err
		}
		// The block is [start, start+producerIDBlock), not up to the
		// image's NextProducerID: in a cluster other brokers' blocks may
		// have been reserved after ours by the time we read it.
		a.next, a.end = start, start+producerIDBlock
	}
	id := a.next
	a.next++
	return id, nil
}
