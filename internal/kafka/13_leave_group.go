package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// LeaveGroup: v0-5.
//
// One member by id before v3; from v3 a batch of members by member id
// and/or group.instance.id (KIP-345), each with its own error. A leave
// starts a rebalance at once rather than after the session timeout.

func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(c *conn, kreq kmsg.Request) finisher {
	return now(c.s.broker.Groups().Leave(kreq.(*kmsg.LeaveGroupRequest)))
}
