package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0-4, for idempotent and transactional producers.
//
// Without a transactional id: a producer id never used before (blocks of
// ids are reserved in the metadata log) with epoch 0; partitions then check
// each producer's sequence numbers. With one, the transaction coordinator
// answers (internal/txn): the id's producer id with its epoch bumped, which
// fences the previous instance and aborts its open transaction; the
// transaction timeout must be within transaction.max.timeout.ms (else
// INVALID_TRANSACTION_TIMEOUT). PRODUCER_FENCED is INVALID_PRODUCER_EPOCH
// before v4.

func init() { register(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		return func() reply {
			tc, cerr := c.txnCoordinator(*req.TransactionalID)
			if cerr != nil {
				resp.ErrorCode = cerr.Code
				resp.ProducerID, resp.ProducerEpoch = -1, -1
				return msgReply{resp}
			}
			pid, epoch, err := tc.InitProducerID(*req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch)
			if err != nil {
				resp.ErrorCode = fencedCode(err, req.Version, 4)
				resp.ProducerID, resp.ProducerEpoch = -1, -1
				return msgReply{resp}
			}
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
			return msgReply{resp}
		}
	}
	id, err := c.s.broker.NewProducerID()
	if err != nil {
		c.log.Error("allocate producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return now(resp)
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	return now(resp)
}
