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
	return now(c.s.broker.Groups().ConsumerGroupDescribe(kreq.(*kmsg.ConsumerGroupDescribeRequest)))
}
