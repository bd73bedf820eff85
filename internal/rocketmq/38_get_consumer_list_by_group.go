package rocketmq

import "encoding/json"

// GET_CONSUMER_LIST_BY_GROUP (38): header consumerGroup.
//
// Answers body {"consumerIdList": [...]}: the client ids of the group's
// live consumers registered on this node by HEART_BEAT, sorted (each
// client sorts it too and takes its share of the queues by its place in
// it). A group with no live consumer answers SYSTEM_ERROR, as RocketMQ
// does.

func init() { register(codeGetConsumerListByGroup, handleGetConsumerListByGroup) }

func handleGetConsumerListByGroup(c *Conn, req *Command) *Command {
	group := req.Field("consumerGroup")
	if group == "" {
		return errorResponse(req, ResInvalidParameter, "missing consumerGroup")
	}
	consumers := c.s.clients.Consumers(group)
	if len(consumers) == 0 {
		return errorResponse(req, ResSystemError, "no consumer of group "+group+" is online")
	}
	ids := make([]string, len(consumers))
	for i, cons := range consumers {
		ids[i] = cons.ClientID
	}
	body, err := json.Marshal(struct {
		IDs []string `json:"consumerIdList"`
	}{ids})
	if err != nil {
		return errorResponse(req, ResSystemError, err.Error())
	}
	resp := Response(req)
	resp.Body = body
	return resp
}
