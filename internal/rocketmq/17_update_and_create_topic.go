package rocketmq

import (
	"strconv"

	"github.com/ferry-mq/ferry/internal/broker"
)

// UPDATE_AND_CREATE_TOPIC (17), what `mqadmin updateTopic` and the Go
// admin's CreateTopic send: header topic, readQueueNums, writeQueueNums.
// The Ferry topic gets max(read, write) partitions: created with that many,
// or grown to it (partitions are never removed, as in Kafka, so asking
// for fewer than it has leaves it as it is). Perm, order and filter type
// have no Ferry equivalent and are ignored.

func init() { register(codeUpdateAndCreateTopic, handleUpdateAndCreateTopic) }

func handleUpdateAndCreateTopic(c *Conn, req *Command) *Command {
	b := c.s.broker
	queues := int64(0)
	for _, f := range []string{"readQueueNums", "writeQueueNums"} {
		if v := req.Field(f); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 1 {
				return errorResponse(req, ResInvalidParameter, f+" "+strconv.Quote(v)+" is not a positive number")
			}
			queues = max(queues, n)
		}
	}
	name, err := FerryTopic(req.Field("topic"))
	if err != nil {
		return errorResponse(req, ResInvalidParameter, err.Error())
	}
	if broker.IsInternalTopic(name) {
		return errorResponse(req, ResNoPermission, "topic "+name+" is internal to Ferry")
	}
	t, exists := b.Image().Topic(name)
	switch {
	case !exists:
		// 0 partitions: the broker's --num-partitions.
		_, err = b.CreateTopic(name, int32(queues), nil, false)
	case int32(queues) > t.Partitions:
		err = b.CreatePartitions(name, int32(queues), false)
	}
	if err != nil {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	c.log.Info("topic created or updated by a RocketMQ admin", "topic", name, "queues", queues)
	return Response(req)
}
