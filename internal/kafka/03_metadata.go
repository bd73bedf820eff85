package kafka

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// Metadata: v0-12.
//
// The controller is the active one (the Raft leader), or this broker while
// the quorum has none. Brokers are the registered, unfenced brokers (this node alone on a single
// node). Each partition names its leader (-1 with LEADER_NOT_AVAILABLE
// while it is offline), leader epoch, replicas, ISR, and the replicas on
// fenced or unregistered brokers as offline replicas. A null topic list (or an
// empty one before v1) lists all topics; named unknown topics are created
// when auto-creation is on and the request allows it (always before v4).
// Topic ids are returned from v10. __consumer_offsets is listed as
// internal.

func init() { register(3, 0, 12, handleMetadata) }

func handleMetadata(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := c.s.broker

	for _, bi := range c.s.brokers() {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID = bi.NodeID
		mb.Host, mb.Port = splitHostPort(bi.Addr)
		resp.Brokers = append(resp.Brokers, mb)
	}
	clusterID := b.Image().ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.Controller()
	if resp.ControllerID < 0 {
		// No active controller: name this broker, as KRaft brokers
		// name one of themselves, so admin requests come here and get
		// NOT_CONTROLLER with the reason instead of failing in the
		// client for want of a controller to send them to.
		resp.ControllerID = b.Config().NodeID
	}

	allowCreate := req.Version < 4 || req.AllowAutoTopicCreation
	var topics []*meta.Topic
	var unknown []kmsg.MetadataResponseTopic
	img := b.Image()
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		topics = img.Topics()
	} else {
		for _, rt := range req.Topics {
			t, err := lookupMetadataTopic(b, img, rt, allowCreate)
			if err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.TopicID = rt.TopicID
				mt.ErrorCode = broker.ErrorCode(err)
				unknown = append(unknown, mt)
				continue
			}
			topics = append(topics, t)
		}
	}
	img = b.Image() // newer, with any topic created above
	for _, t := range topics {
		resp.Topics = append(resp.Topics, metadataTopic(b, img, t))
	}
	resp.Topics = append(resp.Topics, unknown...)
	return now(resp)
}

func lookupMetadataTopic(b *broker.Broker, img *meta.Image, rt kmsg.MetadataRequestTopic, allowCreate bool) (*meta.Topic, error) {
	if rt.Topic == nil {
		if t, ok := img.TopicByID(rt.TopicID); ok {
			return t, nil
		}
		return nil, kerr.UnknownTopicID
	}
	name := *rt.Topic
	if t, ok := img.Topic(name); ok {
		return t, nil
	}
	if err := broker.ValidateTopicName(name); err != nil {
		return nil, err
	}
	if !allowCreate {
		return nil, kerr.UnknownTopicOrPartition
	}
	t, err := b.EnsureTopic(name)
	if err != nil {
		return nil, err
	}
	// Kafka reports a topic it has just created as not yet available;
	// ours is ready at once, so report it.
	return t, nil
}

func metadataTopic(b *broker.Broker, img *meta.Image, t *meta.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = broker.IsInternalTopic(t.Name)
	for i := int32(0); i < t.Partitions; i++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = i
		pl := b.PartitionPlacement(t, i)
		mp.Leader = pl.Leader
		mp.LeaderEpoch = pl.LeaderEpoch
		mp.Replicas = pl.Replicas
		mp.ISR = pl.ISR
		if b.Clustered() {
			if !img.Live(pl.Leader) {
				mp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			for _, r := range pl.Replicas {
				if !img.Live(r) {
					mp.OfflineReplicas = append(mp.OfflineReplicas, r)
				}
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// brokers lists the brokers for Metadata and DescribeCluster: every
// registered, unfenced one in a cluster, else this one at its advertised
// address.
func (s *Server) brokers() []meta.BrokerInfo {
	if s.broker.Clustered() {
		return s.broker.Brokers()
	}
	return []meta.BrokerInfo{{NodeID: s.broker.Config().NodeID, Addr: s.advertised}}
}

func (s *Server) advertisedHostPort() (string, int32) { return splitHostPort(s.advertised) }

func splitHostPort(addr string) (string, int32) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 9092
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return host, 9092
	}
	return host, int32(port)
}
