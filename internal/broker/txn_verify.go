package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/txn"
)

// KIP-890 server-side verification. Before the first transactional append
// of a transaction to a partition, its leader asks the transaction
// coordinator whether the producer (id and epoch) has an open transaction
// with that partition in it: directly when the coordinator runs here,
// else with AddPartitionsToTxn v4 verify-only. Without it a produce that
// arrives after its transaction ended (a retry delayed in the network, a
// zombie whose abort marker came first) would open a transaction no
// coordinator ever ends, and read_committed consumers of the partition
// would stall behind it forever.

// maxVerifyAttempts bounds verifications of one batch lost to a marker
// landing meanwhile (AppendTransactional).
const maxVerifyAttempts = 3

// verifyTimeout bounds one verification with a coordinator on another
// broker. It runs while the produce request waits (on the connection's
// read goroutine, before the append), so it is kept well under producers'
// request timeouts; a coordinator that does not answer in time gives
// NOT_ENOUGH_REPLICAS and the producer retries.
const verifyTimeout = 3 * time.Second

// AppendVerified appends a transactional batch of the producer's
// transaction txnID, verified with the coordinator when it is the
// transaction's first here. Errors are Kafka's Produce codes:
// INVALID_TXN_STATE when the partition is not in the open transaction,
// INVALID_PRODUCER_EPOCH for a fenced producer, NOT_ENOUGH_REPLICAS
// (retriable) when the coordinator cannot be asked.
func (b *Broker) AppendVerified(p *Partition, txnID string, producerID int64, epoch int16, batch []byte) (AppendResult, error) {
	for range maxVerifyAttempts {
		token, needed := p.TxnVerification(producerID, epoch)
		if needed {
			if err := b.VerifyTxnPartition(txnID, producerID, epoch, p.Topic, p.Index); err != nil {
				return AppendResult{}, err
			}
		}
		res, err := p.AppendTransactional(batch, token)
		if !errors.Is(err, errTxnMarkerRace) {
			return res, err
		}
	}
	return AppendResult{}, fmt.Errorf("%w: transaction markers kept landing while %s-%d was verified", kerr.NotEnoughReplicas, p.Topic, p.Index)
}

// VerifyTxnPartition asks the transaction coordinator of txnID whether the
// partition is in the producer's open transaction.
func (b *Broker) VerifyTxnPartition(txnID string, producerID int64, epoch int16, topic string, partition int32) error {
	if c := b.localTxnCoordinator(txnID); c != nil {
		if kerrr := c.InTransaction(txnID, producerID, epoch, topic, partition); kerrr != nil {
			return fmt.Errorf("%w: transactional produce to %s-%d", kerrr, topic, partition)
		}
		return nil
	}
	node, code, err := b.verifyRemote(txnID, producerID, epoch, topic, partition)
	if err != nil {
		return fmt.Errorf("%w: %v", kerr.NotEnoughReplicas, err)
	}
	return verifyError(code, node, topic, partition)
}

// VerifyTxnOffsets asks the transaction coordinator of txnID whether the
// group's offsets are in the producer's open transaction (AddOffsetsToTxn
// came first), for TxnOffsetCommit. Errors are the coordinator's
// (PRODUCER_FENCED, INVALID_TXN_STATE …); COORDINATOR_NOT_AVAILABLE, which
// clients retry, when it cannot be asked.
func (b *Broker) VerifyTxnOffsets(txnID string, producerID int64, epoch int16, group string) *kerr.Error {
	if c := b.localTxnCoordinator(txnID); c != nil {
		return c.VerifyOffsets(txnID, producerID, epoch, group)
	}
	_, code, err := b.verifyRemote(txnID, producerID, epoch, ConsumerOffsetsTopic, b.offsetsPartitionFor(group))
	if err != nil {
		b.log.Debug("cannot verify a transactional offset commit", "transactional_id", txnID, "err", err)
		return kerr.CoordinatorNotAvailable
	}
	kerrr, _ := kerr.ErrorForCode(code).(*kerr.Error)
	switch kerrr {
	case kerr.NotCoordinator, kerr.CoordinatorLoadInProgress:
		return kerr.CoordinatorNotAvailable
	}
	return kerrr
}

// verifyRemote sends AddPartitionsToTxn v4 verify-only for one partition
// to the transaction coordinator of txnID and returns its node and the
// partition's error code.
func (b *Broker) verifyRemote(txnID string, producerID int64, epoch int16, topic string, partition int32) (int32, int16, error) {
	node, ok := b.txnCoordinatorNode(txnID)
	if !ok || node < 0 {
		return node, 0, fmt.Errorf("the transaction coordinator of %q is not available", txnID)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	rt := kmsg.NewAddPartitionsToTxnRequestTransaction()
	rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly = txnID, producerID, epoch, true
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = topic, []int32{partition}
	rt.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{tt}
	req.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{rt}
	kresp, err := b.peers.request(node, req, verifyTimeout, func(node int32) (*peerConn, error) {
		return b.dialNode(node, verifyTimeout)
	})
	if err != nil {
		return node, 0, fmt.Errorf("verify the transaction with coordinator %d: %w", node, err)
	}
	resp := kresp.(*kmsg.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 {
		return node, resp.ErrorCode, nil
	}
	for _, t := range resp.Transactions {
		for _, tt := range t.Topics {
			for _, p := range tt.Partitions {
				if t.TransactionalID == txnID && tt.Topic == topic && p.Partition == partition {
					return node, p.ErrorCode, nil
				}
			}
		}
	}
	return node, 0, fmt.Errorf("coordinator %d answered without %s-%d", node, topic, partition)
}

// verifyError turns a verification answer into the produce's error. As in
// Kafka, a coordinator that moved or is loading becomes NOT_ENOUGH_REPLICAS,
// which producers retry.
func verifyError(code int16, node int32, topic string, partition int32) error {
	kerrr := kerr.ErrorForCode(code)
	switch {
	case kerrr == nil:
		return nil
	case errors.Is(kerrr, kerr.NotCoordinator), errors.Is(kerrr, kerr.CoordinatorNotAvailable), errors.Is(kerrr, kerr.CoordinatorLoadInProgress):
		return fmt.Errorf("%w: coordinator %d: %v", kerr.NotEnoughReplicas, node, kerrr)
	case errors.Is(kerrr, kerr.ProducerFenced):
		return fmt.Errorf("%w: transactional produce to %s-%d", kerr.InvalidProducerEpoch, topic, partition)
	}
	return fmt.Errorf("%w: transactional produce to %s-%d (coordinator %d)", kerrr, topic, partition, node)
}

// localTxnCoordinator returns the transaction coordinator of txnID if it
// runs (loaded) on this broker, else nil.
func (b *Broker) localTxnCoordinator(txnID string) *txn.Coordinator {
	c, err := b.TxnCoordinatorFor(txnID)
	if err != nil {
		return nil
	}
	return c
}

// txnCoordinatorNode returns the broker running the transaction
// coordinator of txnID (the leader of its __transaction_state partition).
func (b *Broker) txnCoordinatorNode(txnID string) (int32, bool) {
	info, err := b.CoordinatorFor(TransactionStateTopic, txnID)
	return info.NodeID, err == nil
}
