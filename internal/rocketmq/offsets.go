package rocketmq

import (
	"strconv"

	"github.com/ferry-mq/ferry/internal/broker"
)

// queuePartition resolves the topic and queueId header fields of req to a
// partition led here; on failure it returns the error response.
func queuePartition(c *Conn, req *Command) (*broker.Partition, *Command) {
	t, code, err := c.s.Topic(req.Field("topic"), false)
	if err != nil {
		return nil, errorResponse(req, code, err.Error())
	}
	q, err := strconv.ParseInt(req.Field("queueId"), 10, 32)
	if err != nil {
		return nil, errorResponse(req, ResInvalidParameter, "queueId "+strconv.Quote(req.Field("queueId"))+" is not a number")
	}
	p, err := c.s.Partition(t, int32(q))
	if err != nil {
		return nil, errorResponse(req, ResServiceNotAvailable, err.Error())
	}
	part, err := c.s.broker.Partition(t.Name, p)
	if err != nil {
		return nil, errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	return part, nil
}

// offsetResponse answers an offset query with header field offset.
func offsetResponse(req *Command, offset int64) *Command {
	resp := Response(req)
	resp.SetField("offset", strconv.FormatInt(offset, 10))
	return resp
}
