package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// LeaveGroup: v0-5.
//
// One member by id before v3; from v3 a batch of members by member id
// and/or group.instance.id (KIP-345), each with its own error. A leave
// starts a rebalance at once rather than after the session timeout.

func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.LeaveGroupRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	return now(gc.Leave(req))
}
