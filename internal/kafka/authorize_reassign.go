package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
)

// authorizeReassignAPI holds Kafka's rules for moving replicas and
// leaders: ALTER on the cluster to start or cancel moves and to elect
// leaders, DESCRIBE on the cluster to list moves. A refusal is
// CLUSTER_AUTHORIZATION_FAILED on every partition asked about (the
// top-level code where the response has one). ok is false for other APIs.
func (c *conn) authorizeReassignAPI(req kmsg.Request, next handlerFunc) (fin finisher, ok bool) {
	code := kerr.ClusterAuthorizationFailed.Code
	switch r := req.(type) {
	case *kmsg.AlterPartitionAssignmentsRequest:
		if c.allowCluster(acl.Alter) {
			return next(c, req), true
		}
		resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode = code
		for _, rt := range r.Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return now(resp), true
	case *kmsg.ListPartitionReassignmentsRequest:
		if c.allowCluster(acl.Describe) {
			return next(c, req), true
		}
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode = code
		return now(resp), true
	case *kmsg.ElectLeadersRequest:
		if c.allowCluster(acl.Alter) {
			return next(c, req), true
		}
		resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.ErrorCode = code
		for _, rt := range r.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return now(resp), true
	}
	return nil, false
}
