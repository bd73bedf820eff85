package rocketmq

import "strconv"

// UPDATE_CONSUMER_OFFSET (15): header consumerGroup, topic, queueId,
// commitOffset. Oneway from rocketmq-client-go (every 5 s per queue).
//
// Commits the offset to the group coordinator as group G, the Ferry topic
// and the queue's partition (see QUERY_CONSUMER_OFFSET), and answers once
// it is durable; on a cluster through the group's coordinator node (see
// QUERY_CONSUMER_OFFSET). An offset equal to the last one committed through this
// node is not written again, so idle consumers cost nothing.

func init() { register(codeUpdateConsumerOffset, handleUpdateConsumerOffset) }

func handleUpdateConsumerOffset(c *Conn, req *Command) *Command {
	group, topic, partition, resp := groupQueue(c, req)
	if resp != nil {
		return resp
	}
	off, err := strconv.ParseInt(req.Field("commitOffset"), 10, 64)
	if err != nil || off < 0 {
		return errorResponse(req, ResInvalidParameter, "commitOffset "+strconv.Quote(req.Field("commitOffset"))+" is not an offset")
	}
	if resp, forwarded := c.s.routeToCoordinator(c, req, group, partition); forwarded {
		return resp
	}
	wait := c.s.commitOffset(group, topic, partition, off)
	return c.Later(req, func() *Command {
		if err := wait(); err != nil {
			c.log.Warn("consumer offset commit failed", "group", group, "topic", topic, "partition", partition, "err", err)
			return errorResponse(req, ResSystemError, err.Error())
		}
		return Response(req)
	})
}
