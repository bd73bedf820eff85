package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/txn"
)

// AddPartitionsToTxn: v0-5.
//
// v0-3 (clients): adds partitions to the producer's transaction, opening
// one if none is open; transactional produce is allowed only to added
// partitions. One unknown partition fails the request: it gets
// UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED.
// Internal topics cannot join. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v2.
//
// v4-5 (KIP-890, broker to broker, CLUSTER_ACTION under ACLs): a batch of
// transactions, each either added as above or, with verify_only, only
// checked: a partition leader asks, before the first transactional append
// of a transaction, whether the partition is in the producer's open
// transaction (INVALID_TXN_STATE if not, INVALID_PRODUCER_EPOCH if the
// producer is fenced).

func init() { register(24, 0, 5, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version >= 4 {
		return func() reply {
			for _, rt := range req.Transactions {
				resp.Transactions = append(resp.Transactions, addOrVerifyTxn(c, &rt))
			}
			return msgReply{resp}
		}
	}
	var parts []txn.Partition
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			parts = append(parts, txn.Partition{Topic: rt.Topic, Partition: p})
		}
	}
	return func() reply {
		var perPart map[txn.Partition]*kerr.Error
		tc, err := c.txnCoordinator(req.TransactionalID)
		if err == nil {
			perPart, err = tc.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts)
		}
		for _, rt := range req.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition = p
				var e *kerr.Error = err
				if e == nil && perPart != nil {
					e = perPart[txn.Partition{Topic: rt.Topic, Partition: p}]
				}
				if e != nil {
					sp.ErrorCode = fencedCode(e, req.Version, 2)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return msgReply{resp}
	}
}

// addOrVerifyTxn serves one transaction of a v4+ request.
func addOrVerifyTxn(c *conn, rt *kmsg.AddPartitionsToTxnRequestTransaction) kmsg.AddPartitionsToTxnResponseTransaction {
	coord, coordErr := c.txnCoordinator(rt.TransactionalID)
	var parts []txn.Partition
	for _, t := range rt.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, txn.Partition{Topic: t.Topic, Partition: p})
		}
	}
	var perPart map[txn.Partition]*kerr.Error
	var all *kerr.Error
	switch {
	case coordErr != nil:
		all = coordErr
	case rt.VerifyOnly:
		perPart = map[txn.Partition]*kerr.Error{}
		for _, p := range parts {
			if e := coord.InTransaction(rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, p.Topic, p.Partition); e != nil {
				perPart[p] = e
			}
		}
	default:
		perPart, all = coord.AddPartitions(rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, parts)
	}
	out := kmsg.NewAddPartitionsToTxnResponseTransaction()
	out.TransactionalID = rt.TransactionalID
	for _, t := range rt.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			sp.Partition = p
			e := all
			if e == nil {
				e = perPart[txn.Partition{Topic: t.Topic, Partition: p}]
			}
			if e != nil {
				sp.ErrorCode = e.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		out.Topics = append(out.Topics, st)
	}
	return out
}
