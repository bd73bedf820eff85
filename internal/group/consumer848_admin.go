package group

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Admin views of KIP-848 consumer groups.

// ConsumerGroupDescribe handles ConsumerGroupDescribe v0-1. A member's
// Assignment is every partition it owns, including partitions it has been
// asked to revoke and has not yet released: that is the set that is
// disjoint across members at every moment. TargetAssignment is what the
// assignor wants it to have.
func (c *Coordinator) ConsumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.Groups {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = id
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = allGroupOperations
		}
		g := c.groups[id]
		switch {
		case c.closed:
			dg.ErrorCode = kerr.NotCoordinator.Code
		case id == "":
			dg.ErrorCode = kerr.InvalidGroupID.Code
		case g == nil:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "Group " + id + " not found."
			dg.ErrorMessage = &msg
		case g.consumer == nil:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "Group " + id + " is not a consumer group."
			dg.ErrorMessage = &msg
		default:
			cg := g.consumer
			dg.State = cg.state()
			dg.Epoch = cg.epoch
			dg.AssignmentEpoch = cg.assignmentEpoch
			dg.AssignorName = cg.assignor
			if dg.AssignorName == "" {
				dg.AssignorName = consumerAssignors[0]
			}
			for _, mid := range slices.Sorted(maps.Keys(cg.members)) {
				m := cg.members[mid]
				dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				dm.MemberID, dm.InstanceID, dm.RackID = m.id, m.instanceID, m.rackID
				dm.MemberEpoch = m.epoch
				dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
				dm.SubscribedTopics = slices.Clone(m.topics)
				if dm.SubscribedTopics == nil {
					dm.SubscribedTopics = []string{}
				}
				dm.SubscribedTopicRegex = m.regex
				dm.Assignment = cg.describeAssignment(m.owns())
				target := map[tpID]int32{}
				for tp := range m.target {
					target[tp] = 0
				}
				dm.TargetAssignment = cg.describeAssignment(target)
				if req.Version >= 1 {
					dm.MemberType = 1 // consumer protocol
				}
				dg.Members = append(dg.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (cg *consumerGroup) describeAssignment(ps map[tpID]int32) kmsg.Assignment {
	var a kmsg.Assignment
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	ids, by := groupByTopic(ps)
	for _, id := range ids {
		t := kmsg.AssignmentTopicPartition{TopicID: id, Topic: cg.names[id], Partitions: by[id]}
		a.TopicPartitions = append(a.TopicPartitions, t)
	}
	return a
}

// consumerListView is how ListGroups shows a consumer group.
func (g *group) consumerListView() (protocolType, state, groupType string) {
	return "consumer", g.consumer.state(), "consumer"
}

// describeConsumerAsClassic fills a DescribeGroups entry for a consumer
// group the way Kafka does for tools that only speak the classic API:
// protocol type "consumer", the assignor as protocol, and each member's
// subscription and owned partitions in the consumer protocol's encoding.
func (c *Coordinator) describeConsumerAsClassic(g *group, dg *kmsg.DescribeGroupsResponseGroup) {
	cg := g.consumer
	dg.State = cg.state()
	dg.ProtocolType = "consumer"
	dg.Protocol = cg.assignor
	if len(cg.members) == 0 {
		dg.Protocol = ""
	}
	for _, mid := range slices.Sorted(maps.Keys(cg.members)) {
		m := cg.members[mid]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		md := kmsg.NewConsumerMemberMetadata()
		md.Version = 3
		md.Topics = slices.Clone(m.topics)
		if md.Topics == nil {
			md.Topics = []string{}
		}
		md.Generation = m.epoch
		md.Rack = m.rackID
		dm.ProtocolMetadata = md.AppendTo(nil)
		as := kmsg.NewConsumerMemberAssignment()
		as.Version = 3
		ids, by := groupByTopic(m.owns())
		for _, id := range ids {
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic, t.Partitions = cg.names[id], by[id]
			as.Topics = append(as.Topics, t)
		}
		dm.MemberAssignment = as.AppendTo(nil)
		dg.Members = append(dg.Members, dm)
	}
}
