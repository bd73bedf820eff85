package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/meta"
)

// DescribeAcls: v0-3.
//
// Lists the bindings a filter selects (Kafka's filter: ANY codes and null
// strings match everything, pattern MATCH selects the bindings that apply
// to a named resource), grouped by resource. Needs DESCRIBE on the
// cluster when checks are enforced. Bindings can be listed and changed
// while enforcement is off, so they can be prepared before turning it on.

func init() { register(29, 0, 3, handleDescribeACLs) }

func handleDescribeACLs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
		PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
		Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
	}
	if err := acl.ValidFilter(f); err != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		return now(resp)
	}
	type resourceKey struct {
		rt   int8
		name string
		pt   int8
	}
	index := map[resourceKey]int{}
	for _, b := range c.s.broker.Image().ACLs().Bindings {
		if !f.Matches(b) {
			continue
		}
		k := resourceKey{b.ResourceType, b.ResourceName, b.PatternType}
		i, ok := index[k]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
			resp.Resources = append(resp.Resources, r)
			i = len(resp.Resources) - 1
			index[k] = i
		}
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, describedACL(b))
	}
	return now(resp)
}

func describedACL(b meta.ACL) kmsg.DescribeACLsResponseResourceACL {
	a := kmsg.NewDescribeACLsResponseResourceACL()
	a.Principal, a.Host = b.Principal, b.Host
	a.Operation, a.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
	return a
}
