package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// IncrementalAlterConfigs: v0-1.
//
// SET and DELETE on topic configs. APPEND and SUBTRACT (list configs) are
// refused with INVALID_CONFIG: set cleanup.policy whole, e.g. to
// "compact,delete".

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		resp.Resources = append(resp.Resources, sr)
		last := &resp.Resources[len(resp.Resources)-1]
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			last.ErrorCode = kerr.InvalidRequest.Code
			last.ErrorMessage = ptr("only topic configs can be altered; broker configs are set at start-up")
			continue
		}
		var changes []broker.ConfigChange
		for _, rc := range rr.Configs {
			switch rc.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				changes = append(changes, broker.ConfigChange{Key: rc.Name, Value: rc.Value})
			case kmsg.IncrementalAlterConfigOpDelete:
				changes = append(changes, broker.ConfigChange{Key: rc.Name})
			default:
				last.ErrorCode = kerr.InvalidConfig.Code
				last.ErrorMessage = ptr("APPEND and SUBTRACT are not supported: " + rc.Name + " is not a list config")
			}
		}
		if last.ErrorCode != 0 {
			continue
		}
		if err := c.s.broker.AlterTopicConfigs(rr.ResourceName, changes, false, req.ValidateOnly); err != nil {
			last.ErrorCode = broker.ErrorCode(err)
			last.ErrorMessage = ptr(broker.ErrorMessage(err))
		}
	}
	return now(resp)
}
