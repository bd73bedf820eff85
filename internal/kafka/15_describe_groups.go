package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeGroups: v0-5.
//
// State, protocol type, the generation's protocol and the members with
// their client ids and hosts; subscriptions and assignments while the group
// is Stable. Unknown groups are reported as Dead without an error (v6
// would say GROUP_ID_NOT_FOUND). Authorized operations (v3+) are all group
// operations: there are no ACLs yet.

func init() { register(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		gc, cerr := c.groupCoordinator(id)
		if cerr != nil {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = id, cerr.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		one := *req
		one.Groups = []string{id}
		resp.Groups = append(resp.Groups, gc.DescribeGroups(&one).Groups...)
	}
	return now(resp)
}
