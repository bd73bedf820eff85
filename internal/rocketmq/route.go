package rocketmq

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// ClusterName is the cluster every Ferry node reports.
const ClusterName = "ferry"

// defaultTopicKey is the topic producers ask the route of when theirs does
// not exist yet (the clients' createTopicKey): its route says where an
// auto-created topic can be sent to.
const defaultTopicKey = "TBW102"

// BrokerName is the RocketMQ broker name of node id: "ferry-<id>". Every
// node is a master (brokerId 0).
func BrokerName(node int32) string { return "ferry-" + strconv.Itoa(int(node)) }

// BrokerName is this node's broker name.
func (s *Server) BrokerName() string { return BrokerName(s.broker.Config().NodeID) }

// Advertised is this node's RocketMQ address, as routes give it.
func (s *Server) Advertised() string { return s.advertised }

// routeNode is one broker in a topic's route: the partitions it leads, in
// ascending order; its queue i is the i-th of them.
type routeNode struct {
	id         int32
	addr       string
	partitions []int32
}

// route lists the nodes leading partitions of t, by node id. A single
// node leads them all, so its queue ids are the partition ids.
func (s *Server) route(t *meta.Topic) []routeNode {
	b := s.broker
	if !b.Clustered() {
		parts := make([]int32, t.Partitions)
		for i := range parts {
			parts[i] = int32(i)
		}
		return []routeNode{{id: b.Config().NodeID, addr: s.advertised, partitions: parts}}
	}
	byNode := map[int32]*routeNode{}
	for _, info := range b.Brokers() {
		byNode[info.NodeID] = &routeNode{id: info.NodeID, addr: s.peerAddr(info)}
	}
	for i := int32(0); i < t.Partitions; i++ {
		if n := byNode[b.PartitionPlacement(t, i).Leader]; n != nil {
			n.partitions = append(n.partitions, i)
		}
	}
	var nodes []routeNode
	for _, n := range byNode {
		if len(n.partitions) > 0 {
			nodes = append(nodes, *n)
		}
	}
	slices.SortFunc(nodes, func(a, b routeNode) int { return int(a.id) - int(b.id) })
	return nodes
}

// peerAddr is a node's RocketMQ address: this node's own, or for a peer
// its Kafka advertised host with its Kafka port moved by the distance
// between this node's Kafka and RocketMQ ports (doc.go: every node keeps
// the same distance).
func (s *Server) peerAddr(info meta.BrokerInfo) string {
	if info.NodeID == s.broker.Config().NodeID {
		return s.advertised
	}
	host, kport, err := net.SplitHostPort(info.Addr)
	if err != nil {
		return ""
	}
	_, myKafka, _ := net.SplitHostPort(s.broker.Config().AdvertisedAddr)
	_, myRocket, _ := net.SplitHostPort(s.advertised)
	kp, _ := strconv.Atoi(kport)
	mk, _ := strconv.Atoi(myKafka)
	mr, _ := strconv.Atoi(myRocket)
	return net.JoinHostPort(host, strconv.Itoa(kp+mr-mk))
}

// Partition maps a queue id of this node's broker to the partition of t
// it stands for.
func (s *Server) Partition(t *meta.Topic, queue int32) (int32, error) {
	if !s.broker.Clustered() {
		if queue < 0 || queue >= t.Partitions {
			return 0, fmt.Errorf("queue %d of topic %s does not exist: it has %d queues", queue, t.Name, t.Partitions)
		}
		return queue, nil
	}
	led := s.ledPartitions(t)
	if queue < 0 || int(queue) >= len(led) {
		return 0, fmt.Errorf("queue %d of topic %s is not on broker %s, which leads %d of its partitions now (the route is stale)", queue, t.Name, s.BrokerName(), len(led))
	}
	return led[queue], nil
}

// QueueID maps a partition of t led by this node to its queue id here
// (-1 when this node does not lead it).
func (s *Server) QueueID(t *meta.Topic, partition int32) int32 {
	if !s.broker.Clustered() {
		return partition
	}
	i, ok := slices.BinarySearch(s.ledPartitions(t), partition)
	if !ok {
		return -1
	}
	return int32(i)
}

// QueueCount is the number of queues of t on this node's broker.
func (s *Server) QueueCount(t *meta.Topic) int32 {
	if !s.broker.Clustered() {
		return t.Partitions
	}
	return int32(len(s.ledPartitions(t)))
}

func (s *Server) ledPartitions(t *meta.Topic) []int32 {
	var led []int32
	me := s.broker.Config().NodeID
	for i := int32(0); i < t.Partitions; i++ {
		if s.broker.PartitionPlacement(t, i).Leader == me {
			led = append(led, i)
		}
	}
	return led
}

// Topic resolves a RocketMQ topic name to its Ferry topic, creating it
// when create is set and automatic creation is on. The error is the
// response code and a remark saying why.
func (s *Server) Topic(rocketTopic string, create bool) (*meta.Topic, int16, error) {
	name, err := FerryTopic(rocketTopic)
	if err != nil {
		return nil, ResTopicNotExist, err
	}
	if broker.IsInternalTopic(name) {
		return nil, ResNoPermission, fmt.Errorf("topic %s is internal to Ferry", name)
	}
	if t, ok := s.broker.Image().Topic(name); ok {
		return t, ResSuccess, nil
	}
	if !create {
		return nil, ResTopicNotExist, fmt.Errorf("topic %s does not exist", rocketTopic)
	}
	if !s.broker.Config().AutoCreateTopics {
		return nil, ResTopicNotExist, fmt.Errorf("topic %s does not exist and automatic topic creation is off (--auto-create-topics)", rocketTopic)
	}
	t, err := s.broker.EnsureTopic(name)
	if err != nil {
		return nil, responseCode(err), fmt.Errorf("creating topic %s: %s", rocketTopic, broker.ErrorMessage(err))
	}
	return t, ResSuccess, nil
}
