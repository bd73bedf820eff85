package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// ConsumerGroupDescribe: v0-1.
//
// KIP-848 consumer groups: state, group and target-assignment epochs, the
// assignor, and per member its epoch, subscription, owned partitions
// (including those it is releasing) and target partitions. Classic groups
// and unknown groups are GROUP_ID_NOT_FOUND, as in Kafka. v1 adds the
// member type (always the consumer protocol here).

func init() { register(69, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		gc, cerr := c.groupCoordinator(id)
		if cerr != nil {
			dg := kmsg.NewConsumerGroupDescribeResponseGroup()
			dg.Group, dg.ErrorCode = id, cerr.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		one := *req
		one.Groups = []string{id}
		resp.Groups = append(resp.Groups, gc.ConsumerGroupDescribe(&one).Groups...)
	}
	return now(resp)
}
