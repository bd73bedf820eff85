package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster: v0-1. It names the active controller (the Raft leader;
// -1 while the quorum has none) and the registered, unfenced brokers; a
// single node is the only broker and its own controller.

func init() { register(60, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = c.s.broker.Image().ClusterID
	resp.ControllerID = c.s.broker.Controller()
	for _, bi := range c.s.brokers() {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = bi.NodeID
		rb.Host, rb.Port = splitHostPort(bi.Addr)
		resp.Brokers = append(resp.Brokers, rb)
	}
	return now(resp)
}
