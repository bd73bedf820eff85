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
// One broker (this node) leads every partition. A null topic list (or an
// empty one before v1) lists all topics; named unknown topics are created
// when auto-creation is on and the request allows it (always before v4).
// Topic ids are returned from v10. __consumer_offsets is listed as
// internal.

func init() { register(3, 0, 12, handleMetadata) }

func handleMetadata(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := c.s.broker
	node := b.Config().NodeID

	host, port := c.s.advertisedHostPort()
	mb := kmsg.NewMetadataResponseBroker()
	mb.NodeID, mb.Host, mb.Port = node, host, port
	resp.Brokers = append(resp.Brokers, mb)
	clusterID := b.Image().ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = node

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
	for _, t := range topics {
		resp.Topics = append(resp.Topics, metadataTopic(t, node))
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

func metadataTopic(t *meta.Topic, node int32) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = broker.IsInternalTopic(t.Name)
	for i := int32(0); i < t.Partitions; i++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = i
		mp.Leader = node
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{node}
		mp.ISR = []int32{node}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// advertisedHostPort splits the advertised address for Metadata.
func (s *Server) advertisedHostPort() (string, int32) {
	host, portStr, err := net.SplitHostPort(s.advertised)
	if err != nil {
		return s.advertised, 9092
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return host, 9092
	}
	return host, int32(port)
}
