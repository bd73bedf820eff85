package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// Heartbeat: v0-4.
//
// Keeps a member's session alive. REBALANCE_IN_PROGRESS tells it to
// rejoin; ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and FENCED_INSTANCE_ID
// that it has been replaced or removed.

func init() { register(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.HeartbeatRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	return now(gc.Heartbeat(req))
}
