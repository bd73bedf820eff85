package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetDelete: v0.
//
// Removes committed offsets of a group. While the group has members, the
// offsets of topics they subscribe to stay (GROUP_SUBSCRIBED_TO_TOPIC);
// non-consumer groups with members refuse with NON_EMPTY_GROUP.

func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	return now(gc.DeleteOffsets(req))
}
