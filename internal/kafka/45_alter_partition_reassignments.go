package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// AlterPartitionReassignments: v0-1.
//
// Starts moves of partitions to new replica lists, or cancels running
// ones (null replicas), KIP-455: the new replicas catch up from the leader
// and the move completes once they are in sync (broker.Reassign). Each
// partition succeeds or fails on its own. v1's allow_replication_factor_
// change=false refuses a target of another length than the current
// replica set (INVALID_REPLICATION_FACTOR). A single node answers
// INVALID_REQUEST: it has nowhere to move to.

func init() { register(45, 0, 1, handleAlterPartitionReassignments) }

func handleAlterPartitionReassignments(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	b := c.s.broker
	allowRF := req.Version < 1 || req.AllowReplicationFactorChange
	img := b.Image()
	// One metadata update for every move that passes the checks here.
	var moves []broker.Move
	var slots []*kmsg.AlterPartitionAssignmentsResponseTopicPartition
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.AlterPartitionAssignmentsResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
	}
	for ti, rt := range req.Topics {
		for pi, rp := range rt.Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			sp.Default()
			sp.Partition = rp.Partition
			if !allowRF && rp.Replicas != nil {
				if t, ok := img.Topic(rt.Topic); ok && rp.Partition >= 0 && int(rp.Partition) < len(t.Placement) {
					if cur := t.Placement[rp.Partition].Original(); len(cur) != len(rp.Replicas) {
						setReassignError(sp, fmt.Errorf("%w: the move changes the replication factor from %d to %d and allow_replication_factor_change is false",
							kerr.InvalidReplicationFactor, len(cur), len(rp.Replicas)))
						continue
					}
				}
			}
			moves = append(moves, broker.Move{Topic: rt.Topic, Partition: rp.Partition, Replicas: rp.Replicas})
			slots = append(slots, sp)
		}
	}
	for i, err := range b.ReassignEach(moves) {
		if err != nil {
			setReassignError(slots[i], err)
		}
	}
	return now(resp)
}

func setReassignError(sp *kmsg.AlterPartitionAssignmentsResponseTopicPartition, err error) {
	sp.ErrorCode = broker.ErrorCode(err)
	msg := broker.ErrorMessage(err)
	sp.ErrorMessage = &msg
}
