package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// ConsumerGroupHeartbeat: v0-1.
//
// KIP-848 consumer groups with server-side assignment (internal/group,
// consumer848.go). A member joins with epoch 0 (v0: the coordinator makes
// its member id; v1: the client brings one), leaves with -1 (-2: a static
// member leaving for a while), and otherwise heartbeats with its member
// epoch and the partitions it owns; the response carries its epoch and,
// when it changed, its assignment. Partitions move between members only
// after their owner has reported releasing them. Assignors: uniform
// (default) and range. Advertising v1 is what makes franz-go's
// kgo.ServerSideBalancer use the protocol.

func init() { register(68, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	return now(gc.ConsumerHeartbeat(req, c.clientID, clientHost(c)))
}
