package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// TxnOffsetCommit: v0-3.
//
// Records consumer offsets inside the producer's transaction (after
// AddOffsetsToTxn, else INVALID_TXN_STATE). They are kept durably in
// __transaction_state and become visible to OffsetFetch only when the
// transaction commits; an abort drops them. v3's generation and member id
// are checked against the group as OffsetCommit's are (generation -1 and
// no member id skip the check). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v3. An error applies to every partition of the request.

func init() { register(28, 0, 3, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	return func() reply {
		tc, err := c.txnCoordinator(req.TransactionalID)
		if err == nil {
			err = tc.TxnOffsetCommit(req)
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
