package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// AddOffsetsToTxn: v0-3.
//
// Adds a group's offsets to the producer's transaction (opening one if
// needed), so that TxnOffsetCommit may follow. PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v2.

func init() { register(25, 0, 3, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	return func() reply {
		tc, err := c.txnCoordinator(req.TransactionalID)
		if err == nil {
			err = tc.AddOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group)
		}
		if err != nil {
			resp.ErrorCode = fencedCode(err, req.Version, 2)
		}
		return msgReply{resp}
	}
}
