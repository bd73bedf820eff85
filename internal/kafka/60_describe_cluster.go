package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster: v0-1. This node is the only broker and the controller.

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
