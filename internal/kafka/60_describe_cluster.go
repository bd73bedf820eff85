package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster: v0-1. This node is the only broker and the controller.

func init() { register(60, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	node := c.s.broker.Config().NodeID
	resp.ClusterID = c.s.broker.Image().ClusterID
	resp.ControllerID = node
	host, port := c.s.advertisedHostPort()
	rb := kmsg.NewDescribeClusterResponseBroker()
	rb.NodeID, rb.Host, rb.Port = node, host, port
	resp.Brokers = append(resp.Brokers, rb)
	return now(resp)
}
