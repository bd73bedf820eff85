package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/meta"
)

// FuzzDescribeACLsFilter decodes DescribeAcls bodies into filters and
// matches them against bindings: no input may panic, and a valid filter
// naming a binding exactly must select it.
func FuzzDescribeACLsFilter(f *testing.F) {
	seed := kmsg.NewPtrDescribeACLsRequest()
	seed.Version = 3
	seed.ResourceType, seed.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeMatch
	name := "orders"
	seed.ResourceName = &name
	seed.Operation, seed.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	f.Add(seed.AppendTo(nil))
	bindings := []meta.ACL{
		{ResourceType: 2, ResourceName: "orders", PatternType: 3, Principal: "User:a", Host: "*", Operation: 4, Permission: 3},
		{ResourceType: 2, ResourceName: "ord", PatternType: 4, Principal: "User:*", Host: "1.2.3.4", Operation: 2, Permission: 2},
		{ResourceType: 3, ResourceName: "*", PatternType: 3, Principal: "User:b", Host: "*", Operation: 3, Permission: 3},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.Version = 3
		if req.ReadFrom(body) != nil {
			return
		}
		flt := acl.Filter{
			ResourceType: acl.ResourceType(req.ResourceType), ResourceName: req.ResourceName,
			PatternType: acl.PatternType(req.ResourcePatternType), Principal: req.Principal, Host: req.Host,
			Operation: acl.Operation(req.Operation), Permission: acl.Permission(req.PermissionType),
		}
		if acl.ValidFilter(flt) != nil {
			return
		}
		for _, b := range bindings {
			flt.Matches(b)
			exact := acl.Filter{ResourceType: acl.ResourceType(b.ResourceType), ResourceName: &b.ResourceName, PatternType: acl.PatternType(b.PatternType),
				Principal: &b.Principal, Host: &b.Host, Operation: acl.Operation(b.Operation), Permission: acl.Permission(b.Permission)}
			if !exact.Matches(b) {
				t.Fatalf("exact filter does not match %+v", b)
			}
		}
	})
}
