package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// IncrementalAlterConfigs: v0-1.
//
// SET and DELETE on topic configs. APPEND and SUBTRACT (list configs) are
// refused with INVALID_CONFIG: set cleanup.policy whole, e.g. to
// "compact,delete".
//
// On a BROKER resource (named by node id) only ferry.broker.draining can
// be changed: SET true marks the broker draining, SET false or DELETE
// clears the mark (broker.SetDraining). Any broker serves it for any node
// id, since it is a metadata write, so a broker that is down can be
// drained too; other broker configs are set at start-up (INVALID_CONFIG).

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		resp.Resources = append(resp.Resources, sr)
		last := &resp.Resources[len(resp.Resources)-1]
		if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
			alterBrokerConfigs(c, rr, last, req.ValidateOnly)
			continue
		}
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			last.ErrorCode = kerr.InvalidRequest.Code
			last.ErrorMessage = ptr("only topic and broker configs can be altered")
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

// alterBrokerConfigs applies the changes of one BROKER resource into out.
func alterBrokerConfigs(c *conn, rr kmsg.IncrementalAlterConfigsRequestResource, out *kmsg.IncrementalAlterConfigsResponseResource, validateOnly bool) {
	node, err := strconv.ParseInt(rr.ResourceName, 10, 32)
	if err != nil || node < 0 {
		out.ErrorCode = kerr.InvalidRequest.Code
		out.ErrorMessage = ptr("broker resource " + strconv.Quote(rr.ResourceName) + " is not a node id; cluster-wide broker defaults cannot be altered")
		return
	}
	for _, rc := range rr.Configs {
		if rc.Name != broker.DrainingConfig {
			out.ErrorCode = kerr.InvalidConfig.Code
			out.ErrorMessage = ptr("broker config " + rc.Name + " is set at start-up; only " + broker.DrainingConfig + " can be altered")
			return
		}
	}
	for _, rc := range rr.Configs {
		draining := false
		switch rc.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			v := ""
			if rc.Value != nil {
				v = *rc.Value
			}
			if draining, err = strconv.ParseBool(v); err != nil {
				out.ErrorCode = kerr.InvalidConfig.Code
				out.ErrorMessage = ptr(broker.DrainingConfig + " must be true or false, not " + strconv.Quote(v))
				return
			}
		case kmsg.IncrementalAlterConfigOpDelete:
		default:
			out.ErrorCode = kerr.InvalidConfig.Code
			out.ErrorMessage = ptr("APPEND and SUBTRACT are not supported: " + rc.Name + " is not a list config")
			return
		}
		if err := c.s.broker.SetDraining(int32(node), draining, validateOnly); err != nil {
			out.ErrorCode = broker.ErrorCode(err)
			out.ErrorMessage = ptr(broker.ErrorMessage(err))
			return
		}
	}
}
