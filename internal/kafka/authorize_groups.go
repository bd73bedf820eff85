package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
)

// Group and transaction APIs: the group (or transactional id) is checked
// first, as Kafka does, and a denied one answers the whole request with
// GROUP_AUTHORIZATION_FAILED (TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
// listings show only what the principal may describe.

var (
	groupDenied = kerr.GroupAuthorizationFailed.Code
	txnDenied   = kerr.TransactionalIDAuthorizationFailed.Code
)

func (c *conn) allowGroup(op acl.Operation, group string) bool {
	return c.allow(op, acl.Group, group)
}

// authorizeGroupAPI handles the group APIs; ok is false for other APIs.
func (c *conn) authorizeGroupAPI(req kmsg.Request, next handlerFunc) (fin finisher, ok bool) {
	deny := func(resp kmsg.Response) (finisher, bool) { return now(resp), true }
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		if !c.allowGroup(acl.Read, r.Group) {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.Generation = groupDenied, -1
			return deny(resp)
		}
	case *kmsg.SyncGroupRequest:
		if !c.allowGroup(acl.Read, r.Group) {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = groupDenied
			return deny(resp)
		}
	case *kmsg.HeartbeatRequest:
		if !c.allowGroup(acl.Read, r.Group) {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = groupDenied
			return deny(resp)
		}
	case *kmsg.LeaveGroupRequest:
		if !c.allowGroup(acl.Read, r.Group) {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = groupDenied
			return deny(resp)
		}
	case *kmsg.ConsumerGroupHeartbeatRequest:
		if !c.allowGroup(acl.Read, r.Group) {
			resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
			resp.ErrorCode = groupDenied
			return deny(resp)
		}
	case *kmsg.OffsetCommitRequest:
		return c.authorizeOffsetCommit(r, next), true
	case *kmsg.OffsetFetchRequest:
		return c.authorizeOffsetFetch(r, next), true
	case *kmsg.OffsetDeleteRequest:
		if !c.allowGroup(acl.Delete, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
			resp.ErrorCode = groupDenied
			return deny(resp)
		}
		for _, t := range r.Topics {
			if !c.allow(acl.Read, acl.Topic, t.Topic) {
				resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
				resp.ErrorCode = topicDenied
				return deny(resp)
			}
		}
	case *kmsg.FindCoordinatorRequest:
		return c.authorizeFindCoordinator(r, next), true
	case *kmsg.DescribeGroupsRequest:
		kept, denied := keepAllowed(r.Groups, func(g *string) bool { return c.allowGroup(acl.Describe, *g) })
		if denied == nil {
			break
		}
		r.Groups = kept
		return withAdded(next(c, r), func(resp kmsg.Response) {
			dr := resp.(*kmsg.DescribeGroupsResponse)
			for _, g := range denied {
				dg := kmsg.NewDescribeGroupsResponseGroup()
				dg.Group, dg.ErrorCode = g, groupDenied
				dr.Groups = append(dr.Groups, dg)
			}
		}), true
	case *kmsg.ConsumerGroupDescribeRequest:
		kept, denied := keepAllowed(r.Groups, func(g *string) bool { return c.allowGroup(acl.Describe, *g) })
		if denied == nil {
			break
		}
		r.Groups = kept
		return withAdded(next(c, r), func(resp kmsg.Response) {
			dr := resp.(*kmsg.ConsumerGroupDescribeResponse)
			for _, g := range denied {
				dg := kmsg.NewConsumerGroupDescribeResponseGroup()
				dg.Group, dg.ErrorCode = g, groupDenied
				dr.Groups = append(dr.Groups, dg)
			}
		}), true
	case *kmsg.DeleteGroupsRequest:
		kept, denied := keepAllowed(r.Groups, func(g *string) bool { return c.allowGroup(acl.Delete, *g) })
		if denied == nil {
			break
		}
		r.Groups = kept
		return withAdded(next(c, r), func(resp kmsg.Response) {
			dr := resp.(*kmsg.DeleteGroupsResponse)
			for _, g := range denied {
				dg := kmsg.NewDeleteGroupsResponseGroup()
				dg.Group, dg.ErrorCode = g, groupDenied
				dr.Groups = append(dr.Groups, dg)
			}
		}), true
	case *kmsg.ListGroupsRequest:
		if c.allowCluster(acl.Describe) {
			break
		}
		principal, host, az := c.effectivePrincipal(), c.host(), c.s.security.authz
		return withAdded(next(c, r), func(resp kmsg.Response) {
			lr := resp.(*kmsg.ListGroupsResponse)
			kept := lr.Groups[:0]
			for _, g := range lr.Groups {
				if az.Authorize(principal, host, acl.Describe, acl.Group, g.Group) {
					kept = append(kept, g)
				}
			}
			lr.Groups = kept
		}), true
	default:
		return nil, false
	}
	return next(c, req), true
}

func (c *conn) authorizeOffsetCommit(r *kmsg.OffsetCommitRequest, next handlerFunc) finisher {
	fill := func(resp *kmsg.OffsetCommitResponse, topics []kmsg.OffsetCommitRequestTopic, code int16) {
		for _, t := range topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	if !c.allowGroup(acl.Read, r.Group) {
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		fill(resp, r.Topics, groupDenied)
		return now(resp)
	}
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.OffsetCommitRequestTopic) bool { return c.allow(acl.Read, acl.Topic, t.Topic) })
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) { fill(resp.(*kmsg.OffsetCommitResponse), denied, topicDenied) })
}

// authorizeOffsetFetch checks DESCRIBE on each group; a denied group's
// entry carries GROUP_AUTHORIZATION_FAILED. (Offsets of topics the
// principal may not describe are not filtered yet.)
func (c *conn) authorizeOffsetFetch(r *kmsg.OffsetFetchRequest, next handlerFunc) finisher {
	if r.Version < 8 {
		if c.allowGroup(acl.Describe, r.Group) {
			return next(c, r)
		}
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = groupDenied
		for _, t := range r.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.Offset = p, groupDenied, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return now(resp)
	}
	kept, denied := keepAllowed(r.Groups, func(g *kmsg.OffsetFetchRequestGroup) bool { return c.allowGroup(acl.Describe, g.Group) })
	if denied == nil {
		return next(c, r)
	}
	r.Groups = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetFetchResponse)
		for _, g := range denied {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, groupDenied
			or.Groups = append(or.Groups, rg)
		}
	})
}

// authorizeFindCoordinator needs DESCRIBE on the group or transactional
// id whose coordinator is asked for.
func (c *conn) authorizeFindCoordinator(r *kmsg.FindCoordinatorRequest, next handlerFunc) finisher {
	rt, code := acl.Group, groupDenied
	if r.CoordinatorType == 1 {
		rt, code = acl.TransactionalID, txnDenied
	}
	if r.Version < 4 {
		if c.allow(acl.Describe, rt, r.CoordinatorKey) {
			return next(c, r)
		}
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
		return now(resp)
	}
	kept, denied := keepAllowed(r.CoordinatorKeys, func(k *string) bool { return c.allow(acl.Describe, rt, *k) })
	if denied == nil {
		return next(c, r)
	}
	r.CoordinatorKeys = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		fr := resp.(*kmsg.FindCoordinatorResponse)
		for _, k := range denied {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key, co.ErrorCode, co.NodeID, co.Port = k, code, -1, -1
			fr.Coordinators = append(fr.Coordinators, co)
		}
	})
}
