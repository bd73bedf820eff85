package rocketmq

import (
	"encoding/json"
	"slices"
)

// LOCK_BATCH_MQ (41): body {"consumerGroup", "clientId", "mqSet": [{topic,
// brokerName, queueId}]}.
//
// Orderly consumers lock each queue before consuming it so that, across
// rebalances, one client of the group at a time consumes a queue
// (queuelocks.go). Takes or renews the locks it can and answers body
// {"lockOKMQSet": [...]} with the queues the client now holds; a queue
// held by another live member of the group is left out. Locks lapse 60 s
// after their last renewal, or at once when the holder leaves the group.

func init() { register(codeLockBatchMQ, handleLockBatchMQ) }

type lockBatchBody struct {
	Group    string        `json:"consumerGroup"`
	ClientID string        `json:"clientId"`
	Queues   []lockedQueue `json:"mqSet"`
}

func handleLockBatchMQ(c *Conn, req *Command) *Command {
	var body lockBatchBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return errorResponse(req, ResInvalidParameter, "lock body is not LockBatchRequestBody JSON: "+err.Error())
	}
	if body.Group == "" || body.ClientID == "" {
		return errorResponse(req, ResInvalidParameter, "lock body needs consumerGroup and clientId")
	}
	got := c.s.consume.locks.Lock(body.Group, body.ClientID, body.Queues, c.s.liveConsumer(body.Group))
	out, err := json.Marshal(struct {
		Queues []lockedQueue `json:"lockOKMQSet"`
	}{got})
	if err != nil {
		return errorResponse(req, ResSystemError, err.Error())
	}
	resp := Response(req)
	resp.Body = out
	return resp
}

// liveConsumer reports whether a client id is a live consumer of group.
func (s *Server) liveConsumer(group string) func(clientID string) bool {
	consumers := s.clients.Consumers(group)
	return func(id string) bool {
		return slices.ContainsFunc(consumers, func(c Consumer) bool { return c.ClientID == id })
	}
}
