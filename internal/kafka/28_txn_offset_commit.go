package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit: v0-3.
//
// Served by the group coordinator, as in Kafka. It first asks the
// transaction coordinator (on this broker or another) whether the group's
// offsets are in the producer's open transaction (AddOffsetsToTxn came
// first, else INVALID_TXN_STATE; a fenced producer gets PRODUCER_FENCED).
// The offsets are then written to __consumer_offsets as a transactional
// batch and held pending: invisible to OffsetFetch until the transaction's
// commit marker reaches the group's partition, dropped by its abort marker.
// v3's generation and member id are checked against the group as
// OffsetCommit's are (generation -1 and no member id skip the check).
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v3. An error applies to
// every partition of the request.

func init() { register(28, 0, 3, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	b := c.s.broker
	return func() reply {
		verify := func() *kerr.Error {
			return b.VerifyTxnOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
		}
		gc, err := c.groupCoordinator(req.Group)
		switch {
		case req.TransactionalID == "":
			err = kerr.InvalidRequest
		case err == nil:
			err = gc.TxnOffsetCommit(req, verify)
		}
		for _, rt := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				if err != nil {
					sp.ErrorCode = fencedCode(err, req.Version, 3)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return msgReply{resp}
	}
}
