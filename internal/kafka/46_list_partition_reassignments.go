package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// ListPartitionReassignments: v0.
//
// Lists the running moves (KIP-455) with their replicas, adding and
// removing replicas: of every partition when topics is null, else of the
// partitions named (those not moving, or unknown, are left out, as Kafka
// does). Progress in bytes is not part of the API: `ferry cluster reassign
// --status` reads it from DescribeLogDirs.

func init() { register(46, 0, 0, handleListPartitionReassignments) }

func handleListPartitionReassignments(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var wanted map[broker.PartitionRef]bool
	if req.Topics != nil {
		wanted = map[broker.PartitionRef]bool{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				wanted[broker.PartitionRef{Topic: rt.Topic, Partition: p}] = true
			}
		}
	}
	byTopic := map[string]int{}
	for _, r := range c.s.broker.Reassignments() {
		if wanted != nil && !wanted[broker.PartitionRef{Topic: r.Topic, Partition: r.Partition}] {
			continue
		}
		i, ok := byTopic[r.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[r.Topic] = i
			st := kmsg.NewListPartitionReassignmentsResponseTopic()
			st.Topic = r.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		sp.Partition = r.Partition
		sp.Replicas, sp.AddingReplicas, sp.RemovingReplicas = r.Replicas, r.Adding, r.Removing
		if sp.AddingReplicas == nil {
			sp.AddingReplicas = []int32{}
		}
		if sp.RemovingReplicas == nil {
			sp.RemovingReplicas = []int32{}
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
	}
	return now(resp)
}
