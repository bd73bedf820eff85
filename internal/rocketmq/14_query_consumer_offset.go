package rocketmq

import (
	"strconv"
)

// QUERY_CONSUMER_OFFSET (14): header consumerGroup, topic, queueId.
//
// Answers the group's committed offset of the queue from the group
// coordinator (the group, topic and partition a Kafka client would
// commit: `ferry group describe G` shows them), in header field offset;
// QUERY_NOT_FOUND when the group has committed nothing there, so the
// client starts where its consumeFromWhere says.

func init() { register(codeQueryConsumerOffset, handleQueryConsumerOffset) }

func handleQueryConsumerOffset(c *Conn, req *Command) *Command {
	group, topic, partition, resp := groupQueue(c, req)
	if resp != nil {
		return resp
	}
	off, err := c.s.committedOffset(group, topic, partition)
	if err != nil {
		return errorResponse(req, ResSystemError, "query consumer offset: "+err.Error())
	}
	if off < 0 {
		return errorResponse(req, ResQueryNotFound, "group "+group+" has no offset for this queue")
	}
	return offsetResponse(req, off)
}

// groupQueue resolves the consumerGroup, topic and queueId fields of an
// offset request to the group and the Ferry topic and partition; on
// failure it returns the error response.
func groupQueue(c *Conn, req *Command) (group, topic string, partition int32, resp *Command) {
	group = req.Field("consumerGroup")
	if group == "" {
		return "", "", 0, errorResponse(req, ResInvalidParameter, "missing consumerGroup")
	}
	t, code, err := c.s.Topic(req.Field("topic"), false)
	if err != nil {
		return "", "", 0, errorResponse(req, code, err.Error())
	}
	q, err := strconv.ParseInt(req.Field("queueId"), 10, 32)
	if err != nil {
		return "", "", 0, errorResponse(req, ResInvalidParameter, "queueId "+strconv.Quote(req.Field("queueId"))+" is not a number")
	}
	p, err := c.s.Partition(t, int32(q))
	if err != nil {
		return "", "", 0, errorResponse(req, ResNotLeaderForQueue, err.Error())
	}
	return group, t.Name, p, nil
}
