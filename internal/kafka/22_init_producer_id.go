package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0-4, for idempotent producers.
//
// Hands out a producer id never used before (blocks of ids are reserved in
// the metadata log) with epoch 0; partitions then check each producer's
// sequence numbers. A request carrying a transactional id is refused until
// the transaction coordinator exists.

func init() { register(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	if req.TransactionalID != nil {
		c.log.Warn("transactional producer refused: transactions are not supported yet", "transactional_id", *req.TransactionalID, "client", c.clientID)
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return now(resp)
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
