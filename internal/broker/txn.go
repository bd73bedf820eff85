package broker

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/txn"
)

// TransactionStateTopic is the internal topic where the transaction
// coordinator keeps its state.
const TransactionStateTopic = "__transaction_state"

// transactionStateConfigs: one partition, compacted like
// __consumer_offsets (records are keyed by transactional id).
func transactionStateConfigs(maxRequestBytes int32) map[string]string {
	return map[string]string{
		"cleanup.policy":    "compact",
		"segment.bytes":     strconv.Itoa(100 << 20),
		"max.message.bytes": strconv.Itoa(int(maxRequestBytes)),
	}
}

// Txn returns the transaction coordinator.
func (b *Broker) Txn() *txn.Coordinator { return b.txn }

// startTxn creates __transaction_state if needed, replays it, completes
// transactions that were ending when the broker stopped, and starts the
// coordinator's timers and the producer-expiry sweep.
func (b *Broker) startTxn() error {
	if _, ok := b.Image().Topic(TransactionStateTopic); !ok {
		if err := b.createInternalTopic(TransactionStateTopic, transactionStateConfigs(b.cfg.MaxRequestBytes)); err != nil {
			return err
		}
	}
	if !b.coordinatesHere(TransactionStateTopic) {
		b.wg.Add(1)
		go b.producerExpiryLoop()
		return nil
	}
	p, err := b.Partition(TransactionStateTopic, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", TransactionStateTopic, err)
	}
	b.txn = txn.New(txn.Config{MaxTimeout: b.cfg.TransactionMaxTimeout, IDExpiration: b.cfg.TransactionalIDExpiration}, offsetsLog{p}, txn.Options{
		Logger:        b.log.With("component", "txn"),
		NewProducerID: b.NewProducerID,
		Partitions:    txnPartitions{b},
		Offsets:       txnOffsets{b},
		OffsetsTopic:  ConsumerOffsetsTopic,
		OnEnd:         b.metrics.txnEnded,
		OnTimeout:     b.metrics.txnTimedOut,
	})
	if err := b.txn.Load(); err != nil {
		return err
	}
	b.txn.Recover()
	b.txn.Start()
	b.wg.Add(1)
	go b.producerExpiryLoop()
	return nil
}

// producerExpiryLoop drops idle producers' state (producer.id.expiration.ms).
func (b *Broker) producerExpiryLoop() {
	defer b.wg.Done()
	every := min(b.cfg.ProducerIDExpiration/10, time.Minute)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.ExpireProducers(time.Now())
	}
}

// ExpireProducers runs one producer-expiry pass.
func (b *Broker) ExpireProducers(now time.Time) {
	b.mu.RLock()
	var all []*Partition
	for _, parts := range b.partitions {
		all = append(all, nonNil(parts)...)
	}
	b.mu.RUnlock()
	for _, p := range all {
		if n := p.expireProducers(now, b.cfg.ProducerIDExpiration); n > 0 {
			b.log.Debug("expired idle producers", "topic", p.Topic, "partition", p.Index, "producers", n)
		}
	}
}

type txnPartitions struct{ b *Broker }

func (t txnPartitions) Exists(topic string, partition int32) bool {
	if IsInternalTopic(topic) {
		return false
	}
	_, err := t.b.Partition(topic, partition)
	return err == nil
}

func (t txnPartitions) WriteMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) error {
	p, err := t.b.Partition(topic, partition)
	if err != nil {
		if err == kerr.UnknownTopicOrPartition {
			return nil // deleted since it joined the transaction
		}
		return err
	}
	return p.WriteMarker(producerID, epoch, commit)
}

type txnOffsets struct{ b *Broker }

func (o txnOffsets) ValidateMember(req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
	return o.b.groups.ValidateTxnMember(req)
}

func (o txnOffsets) CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	return o.b.groups.CommitTxnOffsets(req)
}
