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
	return now(c.s.broker.Groups().DescribeGroups(kreq.(*kmsg.DescribeGroupsRequest)))
}
