package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// DeleteAcls: v0-3.
//
// Removes every binding each filter selects (Kafka's filters, as in
// DescribeAcls; v0 filters are literal) and returns them per filter. The
// matching and the removal happen in one metadata update, so a binding
// created meanwhile is either seen and removed or not touched. Takes
// effect for the next request of every connection. Needs ALTER on the
// cluster when checks are enforced.

func init() { register(31, 0, 3, handleDeleteACLs) }

func handleDeleteACLs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	filters := make([]*acl.Filter, len(req.Filters))
	for i, rf := range req.Filters {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
		pt := rf.ResourcePatternType
		if req.Version == 0 {
			pt = kmsg.ACLResourcePatternTypeLiteral
		}
		f := acl.Filter{
			ResourceType: acl.ResourceType(rf.ResourceType), ResourceName: rf.ResourceName,
			PatternType: acl.PatternType(pt), Principal: rf.Principal, Host: rf.Host,
			Operation: acl.Operation(rf.Operation), Permission: acl.Permission(rf.PermissionType),
		}
		if err := acl.ValidFilter(f); err != nil {
			resp.Results[i].ErrorCode = kerr.InvalidRequest.Code
			msg := err.Error()
			resp.Results[i].ErrorMessage = &msg
			continue
		}
		filters[i] = &f
	}
	matched := make([][]meta.ACL, len(filters))
	_, err := c.s.broker.UpdateSecurity(func(img *meta.Image) ([]meta.Record, error) {
		var recs []meta.Record
		removed := map[meta.ACL]bool{}
		for i, f := range filters {
			matched[i] = nil
			if f == nil {
				continue
			}
			for _, b := range img.ACLs().Bindings {
				if !f.Matches(b) {
					continue
				}
				matched[i] = append(matched[i], b)
				if !removed[b] {
					removed[b] = true
					recs = append(recs, meta.Record{ACL: &meta.ACLRecord{ACL: b, Remove: true}})
				}
			}
		}
		return recs, nil
	})
	if err != nil && err != meta.ErrNoChange {
		code, msg := broker.ErrorCode(err), broker.ErrorMessage(err)
		for i, f := range filters {
			if f != nil {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, &msg
			}
		}
		return now(resp)
	}
	n := 0
	for i, bs := range matched {
		for _, b := range bs {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
			m.Principal, m.Host = b.Principal, b.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
			n++
		}
	}
	if n > 0 {
		c.log.Info("acls deleted", "count", n, "principal", c.effectivePrincipal())
	}
	return now(resp)
}
