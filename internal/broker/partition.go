package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
)

// Partition is one partition's log plus what the broker keeps beside it:
// its config, idempotent-producer state, and fetches waiting for data.
type Partition struct {
	Topic  string
	Index  int32
	log    *log.Log
	logger *slog.Logger
	// dir and topicID say where the log lives and which incarnation of
	// the topic wrote it (recorded in dir, see partdir.go).
	dir     string
	topicID [16]byte

	mu        sync.Mutex // serializes appends with their sequence checks
	config    config.TopicConfig
	producers map[int64]*producerState
	txns      partitionTxns // see txn_partition.go

	waitMu  sync.Mutex
	waiters map[chan struct{}]struct{}
	// appendWaiters are followers' fetches: woken by every append, since
	// they copy records before they are committed.
	appendWaiters map[chan struct{}]struct{}

	storageErrs storageErrorLog // failed appends and fsyncs, rate-limited

	repl     replicaState // role and replication progress, see replica.go
	proposer isrProposer  // asks the controller for ISR changes
	loadedHW int64        // high watermark checkpointed by the last run

	hwCheckpointed atomic.Int64 // last high watermark written, see hwcheckpoint.go

	traffic partitionTraffic // for metrics, read at scrape time
	metrics *brokerMetrics   // the broker's instruments; nil in some tests
}

// Log exposes the partition's log for reads.
func (p *Partition) Log() *log.Log { return p.log }

func (p *Partition) setConfig(tc config.TopicConfig) {
	p.mu.Lock()
	p.config = tc
	p.mu.Unlock()
}

// AppendResult says where a produced batch landed; for a batch an
// idempotent producer re-sent, where the original landed.
type AppendResult struct {
	BaseOffset int64
	LastOffset int64
}

// Append validates one record batch and appends it. It returns once the
// batch is in the page cache; call Sync for durability. The batch's records
// are checked (decompressed if needed) before the partition lock is taken,
// so a slow check does not hold up other producers' sequence checks.
func (p *Partition) Append(batch []byte) (AppendResult, error) {
	return p.appendChecked(batch, nil)
}

// appendChecked is Append with a last check run under p.mu, just before
// the batch is written (see AppendTransactional).
func (p *Partition) appendChecked(batch []byte, check func(h log.BatchHeader) error) (AppendResult, error) {
	p.mu.Lock()
	maxBytes, compacted := p.config.MaxMessageBytes, p.config.Log.CleanupPolicy.Compacts()
	p.mu.Unlock()
	if int64(len(batch)) > int64(maxBytes) {
		return AppendResult{}, fmt.Errorf("%w: batch of %d bytes is over max.message.bytes=%d", kerr.MessageTooLarge, len(batch), maxBytes)
	}
	parse := log.ParseBatch
	if compacted {
		// Compaction keeps the latest record per key, so every record
		// needs one (Kafka refuses unkeyed records here too).
		parse = log.ParseKeyedBatch
	}
	h, err := parse(batch)
	if err != nil {
		if errors.Is(err, log.ErrInvalidRecord) {
			return AppendResult{}, fmt.Errorf("%w: %v", kerr.InvalidRecord, err)
		}
		return AppendResult{}, fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.NumRecords == 0 {
		return AppendResult{}, fmt.Errorf("%w: batch holds no records", kerr.InvalidRecord)
	}
	if h.Attributes&attrControl != 0 {
		return AppendResult{}, fmt.Errorf("%w: control batches are written by the transaction coordinator only", kerr.InvalidRecord)
	}
	if check != nil {
		if err := check(h); err != nil {
			return AppendResult{}, err
		}
	}
	// The coordinators' own transactional batches (TxnOffsetCommit in
	// __consumer_offsets) carry no sequence.
	sequenced := h.ProducerID >= 0 && !(h.BaseSequence < 0 && IsInternalTopic(p.Topic))
	if sequenced {
		if dup, ok, err := p.checkSequenceLocked(h); err != nil {
			return AppendResult{}, err
		} else if ok {
			return dup, nil
		}
	}
	res, err := p.log.AppendParsed(batch, h)
	if err != nil {
		return AppendResult{}, p.storageError("append", err)
	}
	p.traffic.recordsIn.Add(int64(h.NumRecords))
	p.traffic.bytesIn.Add(int64(len(batch)))
	if sequenced {
		p.recordSequenceLocked(h, res.BaseOffset)
	}
	if h.ProducerID >= 0 {
		if err := p.trackTxnLocked(h, res.BaseOffset, res.LastOffset, log.ControlNone); err != nil {
			p.logTxnIndexError(err)
		}
	}
	return AppendResult{BaseOffset: res.BaseOffset, LastOffset: res.LastOffset}, nil
}

// Sync waits until every offset below upTo is durable under the topic's
// flush policy.
func (p *Partition) Sync(upTo int64) error {
	if err := p.log.Sync(upTo); err != nil {
		return p.storageError("sync", err)
	}
	return nil
}

// Watch registers ch to receive (non-blocking) a signal when the
// partition's high watermark advances. Unwatch removes it.
func (p *Partition) Watch(ch chan struct{}) {
	p.waitMu.Lock()
	if p.waiters == nil {
		p.waiters = map[chan struct{}]struct{}{}
	}
	p.waiters[ch] = struct{}{}
	p.waitMu.Unlock()
}

// Unwatch stops signalling ch.
func (p *Partition) Unwatch(ch chan struct{}) {
	p.waitMu.Lock()
	delete(p.waiters, ch)
	p.waitMu.Unlock()
}

// WatchAppends is Watch for a follower's fetch: ch is signalled on every
// append, durable or not. UnwatchAppends removes it.
func (p *Partition) WatchAppends(ch chan struct{}) {
	p.waitMu.Lock()
	if p.appendWaiters == nil {
		p.appendWaiters = map[chan struct{}]struct{}{}
	}
	p.appendWaiters[ch] = struct{}{}
	p.waitMu.Unlock()
}

// UnwatchAppends stops signalling ch.
func (p *Partition) UnwatchAppends(ch chan struct{}) {
	p.waitMu.Lock()
	delete(p.appendWaiters, ch)
	p.waitMu.Unlock()
}

func (p *Partition) onLogAppend(int64) {
	if !p.repl.replicated.Load() {
		return // no followers: skip the lock on every append
	}
	p.waitMu.Lock()
	for ch := range p.appendWaiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

func (p *Partition) wakeWaiters(int64) {
	p.waitMu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}
