package broker

import (
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TransactionStateTopic is the internal topic where the transaction
// coordinator keeps its state.
const TransactionStateTopic = "__transaction_state"

// transactionStateConfigs: compacted like __consumer_offsets (records are
// keyed by transactional id), --txn-topic-partitions partitions.
func transactionStateConfigs(maxRequestBytes int32) map[string]string {
	return map[string]string{
		"cleanup.policy":    "compact",
		"segment.bytes":     strconv.Itoa(100 << 20),
		"max.message.bytes": strconv.Itoa(int(maxRequestBytes)),
	}
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

// Exists says whether the metadata has the partition; in a cluster
// another broker may lead it.
func (t txnPartitions) Exists(topic string, partition int32) bool {
	if IsInternalTopic(topic) {
		return false
	}
	tp, ok := t.b.Image().Topic(topic)
	return ok && partition >= 0 && partition < tp.Partitions
}

// WriteMarker writes the marker on the partition's leader, here or on a
// peer (txn_markers.go).
//
// A partition that answers INVALID_PRODUCER_EPOCH holds a marker of a
// newer epoch of the producer already (a duplicate of this one, or the
// fencing abort of a later InitProducerId), which ended the transaction
// there: as Kafka does, the marker counts as written rather than being
// retried for ever.
func (t txnPartitions) WriteMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) error {
	err := t.b.newMarkerRoute().write(txnMarker{topic: topic, partition: partition, producerID: producerID, epoch: epoch, commit: commit})
	if errors.Is(err, kerr.InvalidProducerEpoch) {
		t.b.log.Warn("transaction marker superseded by a newer epoch of its producer", "topic", topic, "partition", partition, "producer_id", producerID, "epoch", epoch, "err", err)
		return nil
	}
	return err
}

// legacyTxnOffsets completes offsets an older Ferry kept in
// __transaction_state, through the group's coordinator when it runs here.
type legacyTxnOffsets struct{ b *Broker }

func (o legacyTxnOffsets) CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	c, err := o.b.GroupCoordinatorFor(req.Group)
	if err != nil {
		o.b.log.Warn("offsets an older Ferry kept for a transaction are dropped: the group coordinator is not on this broker", "group", req.Group, "transactional_id", req.TransactionalID, "err", err)
		return nil
	}
	return c.CommitTxnOffsets(req)
}

// kerrOf returns the Kafka error err wraps, UNKNOWN_SERVER_ERROR if none.
func kerrOf(err error) *kerr.Error {
	var ke *kerr.Error
	if asKerr(err, &ke) {
		return ke
	}
	return kerr.UnknownServerError
}

// offsetsPartitionFor returns the partition of __consumer_offsets that
// holds a group.
func (b *Broker) offsetsPartitionFor(group string) int32 {
	_, part, _ := b.coordinatorPartitionOf(ConsumerOffsetsTopic, group)
	return part
}
