package rocketmq

import "encoding/json"

// UNLOCK_BATCH_MQ (42): body as LOCK_BATCH_MQ's. Sync or oneway.
//
// Releases the listed queues' locks the client holds (a client unlocks a
// queue rebalancing takes from it, and all of them at shutdown); locks of
// other clients stay.

func init() { register(codeUnlockBatchMQ, handleUnlockBatchMQ) }

func handleUnlockBatchMQ(c *Conn, req *Command) *Command {
	var body lockBatchBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return errorResponse(req, ResInvalidParameter, "unlock body is not UnlockBatchRequestBody JSON: "+err.Error())
	}
	c.s.consume.locks.Unlock(body.Group, body.ClientID, body.Queues)
	return Response(req)
}
