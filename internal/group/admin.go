package group

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// allGroupOperations is the ACL operation bitfield reported when a client
// asks for authorized operations: READ, DELETE and DESCRIBE, since Ferry
// has no ACLs yet.
const allGroupOperations = 1<<3 | 1<<6 | 1<<8

// ListGroups handles ListGroups; v4 filters by state and v5 by type
// ("classic", or "consumer" for KIP-848 groups).
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	matches := func(filter []string, v string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
	}
	for _, g := range c.groups {
		protocolType, state, groupType := g.protocolType, g.state.String(), "classic"
		if g.consumer != nil {
			protocolType, state, groupType = g.consumerListView() // KIP-848
		}
		if !matches(req.StatesFilter, state) || !matches(req.TypesFilter, groupType) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, protocolType, state, groupType
		resp.Groups = append(resp.Groups, lg)
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	return resp
}

// DescribeGroups handles DescribeGroups. An unknown group is reported as
// Dead with no error, as Kafka does before v6. Member metadata and
// assignments are included only while the group is Stable.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = allGroupOperations
		}
		g, ok := c.groups[id]
		switch {
		case c.closed:
			dg.ErrorCode = kerr.NotCoordinator.Code
		case !ok:
			dg.State = Dead.String()
		case g.consumer != nil:
			c.describeConsumerAsClassic(g, &dg) // KIP-848
		default:
			dg.State = g.state.String()
			dg.ProtocolType = g.protocolType
			if g.state == Stable {
				dg.Protocol = g.protocol
			}
			for _, m := range g.sortedMembers() {
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
				if g.state == Stable {
					dm.ProtocolMetadata = m.metadataFor(g.protocol)
					dm.MemberAssignment = m.assignment
				}
				dg.Members = append(dg.Members, dm)
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

// DeleteGroups handles DeleteGroups: only groups without members can go;
// their offsets and metadata are tombstoned, and the answer waits for the
// tombstones to be durable.
func (c *Coordinator) DeleteGroups(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var deleted []*kmsg.DeleteGroupsResponseGroup
	c.mu.Lock()
	var end int64
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		g, ok := c.groups[id]
		switch {
		case c.closed:
			dg.ErrorCode = kerr.NotCoordinator.Code
		case id == "":
			dg.ErrorCode = kerr.InvalidGroupID.Code
		case !ok:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != Empty || len(g.members) > 0 || g.hasConsumerMembers():
			dg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			var recs []kv
			for tp := range g.offsets {
				recs = append(recs, kv{Key: offsetKey(id, tp)})
			}
			recs = append(recs, kv{Key: groupKey(id)})
			next, err := c.appendLocked(recs)
			if err != nil {
				c.logger.Error("delete group: write failed", "group", id, "err", err)
				dg.ErrorCode = kerr.CoordinatorNotAvailable.Code
				break
			}
			end = next
			delete(c.groups, id)
			c.logger.Info("group deleted", "group", id)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	c.mu.Unlock()
	for i := range resp.Groups {
		deleted = append(deleted, &resp.Groups[i])
	}
	// Answer once the tombstones are durable, as Kafka does.
	if end > 0 {
		if err := c.log.Sync(end); err != nil {
			c.logger.Error("delete group: sync failed", "err", err)
			for _, dg := range deleted {
				if dg.ErrorCode == 0 {
					dg.ErrorCode = kerr.CoordinatorNotAvailable.Code
				}
			}
		}
	}
	return resp
}
