package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// EndTxn: v0-3.
//
// Commits or aborts the producer's open transaction: the decision is made
// durable in __transaction_state, then a commit or abort marker is written
// to every partition in the transaction and, on commit, its
// TxnOffsetCommit offsets become visible in their groups; the response
// waits for all of it, so a read_committed consumer sees the outcome as
// soon as EndTxn returns. With no open transaction: INVALID_TXN_STATE (a
// retry of the EndTxn that ended the last one succeeds); unknown id or
// another producer id: INVALID_PRODUCER_ID_MAPPING; an older epoch:
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2).

func init() { register(26, 0, 3, handleEndTxn) }

func handleEndTxn(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	return func() reply {
		tc, err := c.txnCoordinator(req.TransactionalID)
		if err == nil {
			err = tc.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
		}
		if err != nil {
			resp.ErrorCode = fencedCode(err, req.Version, 2)
		}
		return msgReply{resp}
	}
}
