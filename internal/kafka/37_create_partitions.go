package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// CreatePartitions: v0-3.
//
// Raises a topic's partition count online; producers and consumers see the
// new partitions on their next metadata refresh. Assignments, if given,
// must name this node.

func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	b := c.s.broker
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		for _, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != b.Config().NodeID {
				err = fmt.Errorf("%w: assignments must name only broker %d", kerr.InvalidReplicaAssignment, b.Config().NodeID)
			}
		}
		if err == nil {
			err = b.CreatePartitions(rt.Topic, rt.Count, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode = broker.ErrorCode(err)
			msg := broker.ErrorMessage(err)
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
