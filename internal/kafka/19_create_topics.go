package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// CreateTopics: v0-7.
//
// A partition count or replication factor of -1 takes the broker default
// (--num-partitions, --default-replication-factor: min(3, live brokers)).
// A replication factor above the live (unfenced) brokers is refused with
// INVALID_REPLICATION_FACTOR; a single node allows 1 only. Manual replica
// assignments must name distinct live brokers, the same number for each
// partition, partitions 0 to n-1. A topic with replication factor 3 or
// more gets min.insync.replicas=2 unless it or the broker names one.
// Configs are validated before anything is written; with validate_only
// nothing is. v5+ returns the resulting configs, v7 topic ids.

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
	spec := broker.TopicSpec{Name: rt.Topic, Partitions: rt.NumPartitions, ReplicationFactor: rt.ReplicationFactor, ValidateOnly: req.ValidateOnly}
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return fmt.Errorf("%w: give either a partition count and replication factor or replica assignments, not both", kerr.InvalidRequest)
		}
		spec.Assignment = make([][]int32, len(rt.ReplicaAssignment))
		for _, ra := range rt.ReplicaAssignment {
			if ra.Partition < 0 || int(ra.Partition) >= len(spec.Assignment) || spec.Assignment[ra.Partition] != nil {
				return fmt.Errorf("%w: replica assignments must name partitions 0 to %d once each; partition %d does not fit", kerr.InvalidReplicaAssignment, len(rt.ReplicaAssignment)-1, ra.Partition)
			}
			spec.Assignment[ra.Partition] = append([]int32{}, ra.Replicas...)
		}
		spec.Partitions, spec.ReplicationFactor = 0, 0
	} else {
		if rt.NumPartitions == 0 || rt.NumPartitions < -1 {
			return fmt.Errorf("%w: partition count %d must be positive (or -1 for the default)", kerr.InvalidPartitions, rt.NumPartitions)
		}
		if rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
			return fmt.Errorf("%w: replication factor %d must be positive (or -1 for the default)", kerr.InvalidReplicationFactor, rt.ReplicationFactor)
		}
	}
	configs := map[string]string{}
	for _, rc := range rt.Configs {
		if rc.Value == nil {
			continue
		}
		configs[rc.Name] = *rc.Value
	}
	spec.Configs = configs
	t, err := b.CreateTopicSpec(spec)
	if err != nil {
		return err
	}
	st.TopicID = t.ID
	st.NumPartitions = t.Partitions
	st.ReplicationFactor = 1
	if len(t.Placement) > 0 && len(t.Placement[0].Replicas) > 0 {
		st.ReplicationFactor = int16(len(t.Placement[0].Replicas))
	}
	for _, d := range describeTopicConfigs(b, t.Configs, nil) {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name, rc.Value, rc.ReadOnly, rc.Source, rc.IsSensitive = d.Name, d.Value, d.ReadOnly, int8(d.Source), d.IsSensitive
		st.Configs = append(st.Configs, rc)
	}
	return nil
}
