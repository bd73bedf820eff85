package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// AlterConfigs: v0-2.
//
// The legacy form: the configs given replace all of the topic's configs.
// Broker configs are read-only.

func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = ptr("only topic configs can be altered; broker configs are set at start-up")
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		var changes []broker.ConfigChange
		for _, rc := range rr.Configs {
			changes = append(changes, broker.ConfigChange{Key: rc.Name, Value: rc.Value})
		}
		if err := c.s.broker.AlterTopicConfigs(rr.ResourceName, changes, true, req.ValidateOnly); err != nil {
			sr.ErrorCode = broker.ErrorCode(err)
			sr.ErrorMessage = ptr(broker.ErrorMessage(err))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return now(resp)
}
