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
// client starts where its consumeFromWhere says. On a cluster, a node
// that does not coordinate the group forwards the request to the one that
// does (offsets_forward.go).

func init() { register(codeQueryConsumerOffset, handleQueryConsumerOffset) }

func handleQueryConsumerOffset(c *Conn, req *Command) *Command {
	group, topic, partition, resp := groupQueue(c, req)
	if resp != nil {
		return resp
	}
	if resp, forwarded := c.s.routeToCoordinator(c, req, group, partition); forwarded {
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
	if v, ok := req.ExtFields[fieldFerryPartition]; ok { // forwarded by a peer
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p < 0 || p >= int64(t.Partitions) {
			return "", "", 0, errorResponse(req, ResInvalidParameter, "ferryPartition "+strconv.Quote(v)+" is no partition of "+t.Name)
		}
		return group, t.Name, int32(p), nil
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

// routeToCoordinator forwards an offset request for group's partition to
// the node coordinating the group when that is not this node; forwarded
// is false when the request is to be served here.
func (s *Server) routeToCoordinator(c *Conn, req *Command, group string, partition int32) (resp *Command, forwarded bool) {
	addr, local, err := s.coordinatorPeer(group)
	switch {
	case err != nil:
		return errorResponse(req, ResSystemError, err.Error()), true
	case local:
		return nil, false
	case req.Field(fieldFerryForwarded) == "1":
		return errorResponse(req, ResSystemError, "forwarded to a node that does not coordinate group "+group+" (the coordinator moved); retry"), true
	}
	return c.Later(req, func() *Command { return s.forwardOffsetRequest(addr, req, partition) }), true
}
