package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs: v0-4.
//
// Topic resources report every topic config Ferry understands with the
// source of its value (topic, broker default, built-in default); broker
// resources report the read-only broker settings clients ask about.

func init() { register(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	b := c.s.broker
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var configs []describedConfig
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t, ok := b.Image().Topic(rr.ResourceName)
			if !ok {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			configs = describeTopicConfigs(b, t.Configs, rr.ConfigNames)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.Config().NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = ptr("unknown broker " + rr.ResourceName)
				break
			}
			configs = describeBrokerConfigs(b, rr.ConfigNames)
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = ptr("only topic and broker configs can be described")
		}
		for _, d := range configs {
			rc := kmsg.NewDescribeConfigsResponseResourceConfig()
			rc.Name, rc.Value, rc.ReadOnly, rc.IsDefault, rc.Source, rc.IsSensitive = d.Name, d.Value, d.ReadOnly, d.IsDefault, d.Source, d.IsSensitive
			rc.ConfigType = d.Type
			if req.IncludeDocumentation {
				rc.Documentation = ptr(d.Doc)
			}
			sr.Configs = append(sr.Configs, rc)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return now(resp)
}
