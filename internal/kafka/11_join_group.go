package kafka

import (
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup: v0-9.
//
// Classic group protocol (internal/group). From v4 a first join without a
// member id is answered MEMBER_ID_REQUIRED with an id to come back with
// (KIP-394); static members (group.instance.id, v5+) skip that and get
// their assignment back without a rebalance when the group is stable; v9
// tells a rejoining static leader to skip assignment (KIP-814). The request
// is handed to the coordinator in request order; the wait for the other
// members happens on the write goroutine, as Kafka holds the connection.

func init() { register(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.JoinGroupRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = cerr.Code
		return now(resp)
	}
	ch := gc.Join(req, c.clientID, clientHost(c))
	return func() reply {
		defer c.parkedSince(time.Now()) // waiting for the other members is no slowness
		select {
		case resp := <-ch:
			return msgReply{resp}
		case <-c.s.ctx.Done():
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return msgReply{resp}
		}
	}
}

// clientHost is what DescribeGroups shows for a member: "/ip", as Kafka
// shows it.
func clientHost(c *conn) string {
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		return "/" + c.nc.RemoteAddr().String()
	}
	return "/" + host
}
