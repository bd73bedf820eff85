package rocketmq

// GET_BROKER_CLUSTER_INFO (106): every live node as broker ferry-<id>
// (master only) of cluster "ferry"; body ClusterInfo as JSON. Admin tools
// and some clients' start-up ask for it.

func init() { register(codeGetBrokerClusterInfo, handleGetBrokerClusterInfo) }

type clusterInfo struct {
	BrokerAddrTable  map[string]brokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

func handleGetBrokerClusterInfo(c *Conn, req *Command) *Command {
	s := c.s
	info := clusterInfo{BrokerAddrTable: map[string]brokerData{}, ClusterAddrTable: map[string][]string{}}
	for _, b := range s.broker.Brokers() {
		name := BrokerName(b.NodeID)
		info.BrokerAddrTable[name] = brokerData{Cluster: ClusterName, BrokerName: name, BrokerAddrs: map[string]string{"0": s.peerAddr(b)}}
		info.ClusterAddrTable[ClusterName] = append(info.ClusterAddrTable[ClusterName], name)
	}
	return jsonResponse(req, info)
}
