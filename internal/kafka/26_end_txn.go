package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// EndTxn: v0-5.
//
// Commits or aborts the producer's open transaction: the decision is made
// durable in __transaction_state, then a commit or abort marker is written
// to every partition in the transaction (on whichever broker leads it) and
// to the groups' partitions of __consumer_offsets, which makes their
// pending TxnOffsetCommit offsets visible or drops them; the response
// waits for all of it, so a read_committed consumer sees the outcome as
// soon as EndTxn returns. With no open transaction: INVALID_TXN_STATE (a
// retry of the EndTxn that ended the last one succeeds); unknown id or
// another producer id: INVALID_PRODUCER_ID_MAPPING; an older epoch:
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2). v5 (KIP-890 part 2)
// bumps the epoch on every end, writes the markers with the new one and
// returns the producer id and epoch for the next transaction; a retry with
// the previous epoch gets the current ones.

func init() { register(26, 0, 5, handleEndTxn) }

func handleEndTxn(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	return func() reply {
		tc, err := c.txnCoordinator(req.TransactionalID)
		if err != nil {
			resp.ErrorCode = err.Code
			return msgReply{resp}
		}
		if req.Version >= 5 {
			pid, epoch, err := tc.EndTxnBumping(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit)
			if err != nil {
				resp.ErrorCode = err.Code
			}
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
			return msgReply{resp}
		}
		if err := tc.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit); err != nil {
			resp.ErrorCode = fencedCode(err, req.Version, 2)
		}
		return msgReply{resp}
	}
}
