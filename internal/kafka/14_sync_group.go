package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup: v0-5.
//
// The leader's assignment bytes are handed to each member untouched, so
// every client-side assignor (range, roundrobin, sticky,
// cooperative-sticky) works. Followers wait on the write goroutine until
// the leader's sync arrives or the rebalance restarts. v5 checks the
// protocol type and name against the generation's.

func init() { register(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.SyncGroupRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	ch := gc.Sync(req)
	return func() reply {
		defer c.parkedSince(time.Now()) // waiting for the other members is no slowness
		select {
		case resp := <-ch:
			return msgReply{resp}
		case <-c.s.ctx.Done():
			resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return msgReply{resp}
		}
	}
}
