package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/txn"
)

// AddPartitionsToTxn: v0-3 (v4-5 are KIP-890's broker-to-coordinator
// batched forms, not served).
//
// Adds partitions to the producer's transaction, opening one if none is
// open; transactional produce is allowed only to added partitions. One
// unknown partition fails the request: it gets UNKNOWN_TOPIC_OR_PARTITION
// and the rest OPERATION_NOT_ATTEMPTED. Internal topics cannot join.
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.

func init() { register(24, 0, 3, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
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
