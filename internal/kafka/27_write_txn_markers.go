package kafka

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// WriteTxnMarkers: v0-1, broker to broker.
//
// A transaction coordinator asks the leader of each partition of an ended
// transaction to append the commit or abort marker (a control batch with
// the producer's id and epoch) and answers once every marker is durable.
// Each partition gets its own error: NOT_LEADER_OR_FOLLOWER when this
// broker does not lead it (the coordinator looks the leader up again and
// retries), UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH for a marker
// older than the producer's epoch here. A marker for __consumer_offsets
// also completes the transaction's pending offsets in the group
// coordinator. Only brokers send it: under ACLs it needs CLUSTER_ACTION on
// the cluster.

func init() { register(27, 0, 1, handleWriteTxnMarkers) }

func handleWriteTxnMarkers(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	b := c.s.broker
	return func() reply {
		var wg sync.WaitGroup
		for _, rm := range req.Markers {
			sm := kmsg.NewWriteTxnMarkersResponseMarker()
			sm.ProducerID = rm.ProducerID
			for _, rt := range rm.Topics {
				st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				st.Topic = rt.Topic
				st.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(rt.Partitions))
				for i, p := range rt.Partitions {
					sp := &st.Partitions[i]
					*sp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					sp.Partition = p
					wg.Add(1)
					go func() {
						defer wg.Done()
						err := b.WriteTxnMarker(rt.Topic, p, rm.ProducerID, rm.ProducerEpoch, rm.Committed)
						if err != nil {
							sp.ErrorCode = broker.ErrorCode(err)
							c.log.Debug("write transaction marker", "topic", rt.Topic, "partition", p, "producer_id", rm.ProducerID, "err", err)
						}
					}()
				}
				sm.Topics = append(sm.Topics, st)
			}
			resp.Markers = append(resp.Markers, sm)
		}
		wg.Wait()
		return msgReply{resp}
	}
}
