package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// CreateTopics: v0-7.
//
// A partition count of -1 takes the broker default. The replication factor
// must be -1 or 1 on a single node, and manual replica assignments must name
// this node. Configs are validated before anything is written; with
// validate_only nothing is. v5+ returns the resulting configs, v7 topic ids.

func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		err := createTopic(c, req, rt, seen[rt.Topic] > 1, &st)
		if err != nil {
			st.ErrorCode = broker.ErrorCode(err)
			msg := broker.ErrorMessage(err)
			st.ErrorMessage = &msg
			st.NumPartitions, st.ReplicationFactor = -1, -1
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

func createTopic(c *conn, req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, duplicate bool, st *kmsg.CreateTopicsResponseTopic) error {
	b := c.s.broker
	if duplicate {
		return fmt.Errorf("%w: topic %q is named more than once in the request", kerr.InvalidRequest, rt.Topic)
	}
	if b.Clustered() && len(rt.ReplicaAssignment) > 0 {
		return fmt.Errorf("%w: replica assignments are not supported by the cluster preview yet; give a partition count", kerr.InvalidReplicaAssignment)
	}
	// TEMPORARY (replaced by the controller branch): a cluster places
	// min(3, brokers) replicas whatever the request says.
	if !b.Clustered() && rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
		return fmt.Errorf("%w: replication factor %d is larger than the 1 broker available", kerr.InvalidReplicationFactor, rt.ReplicationFactor)
	}
	partitions := rt.NumPartitions
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 {
			return fmt.Errorf("%w: give either a partition count or replica assignments, not both", kerr.InvalidRequest)
		}
		for _, ra := range rt.ReplicaAssignment {
			if len(ra.Replicas) != 1 || ra.Replicas[0] != b.Config().NodeID {
				return fmt.Errorf("%w: replica assignment for partition %d names brokers other than this one", kerr.InvalidReplicaAssignment, ra.Partition)
			}
		}
		partitions = int32(len(rt.ReplicaAssignment))
	} else if partitions == 0 || partitions < -1 {
		return fmt.Errorf("%w: partition count %d must be positive (or -1 for the default)", kerr.InvalidPartitions, partitions)
	}
	configs := map[string]string{}
	for _, rc := range rt.Configs {
		if rc.Value == nil {
			continue
		}
		configs[rc.Name] = *rc.Value
	}
	t, err := b.CreateTopic(rt.Topic, partitions, configs, req.ValidateOnly)
	if err != nil {
		return err
	}
	st.TopicID = t.ID
	st.NumPartitions = t.Partitions
	st.ReplicationFactor = 1
	for _, d := range describeTopicConfigs(b, t.Configs, nil) {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name, rc.Value, rc.ReadOnly, rc.Source, rc.IsSensitive = d.Name, d.Value, d.ReadOnly, int8(d.Source), d.IsSensitive
		st.Configs = append(st.Configs, rc)
	}
	return nil
}
