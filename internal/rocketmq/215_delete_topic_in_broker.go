package rocketmq

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/broker"
)

// DELETE_TOPIC_IN_BROKER (215) and DELETE_TOPIC_IN_NAMESRV (216): header
// topic. Ferry has one copy of a topic for both roles, so either deletes
// it (the Ferry topic, its data and every client's view of it); the
// second of the pair the admin sends finds it gone and succeeds.

func init() {
	register(codeDeleteTopicInBroker, handleDeleteTopic)
	register(codeDeleteTopicInNamesrv, handleDeleteTopic)
}

func handleDeleteTopic(c *Conn, req *Command) *Command {
	name, err := FerryTopic(req.Field("topic"))
	if err != nil {
		return errorResponse(req, ResInvalidParameter, err.Error())
	}
	if broker.IsInternalTopic(name) {
		return errorResponse(req, ResNoPermission, "topic "+name+" is internal to Ferry")
	}
	if err := c.s.broker.DeleteTopic(name); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	c.log.Info("topic deleted by a RocketMQ admin", "topic", name)
	return Response(req)
}
