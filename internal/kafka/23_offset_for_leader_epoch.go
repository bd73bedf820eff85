package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// OffsetForLeaderEpoch: v0-4.
//
// For each partition, the end offset of the requested leader epoch (KIP-101,
// KIP-279): the largest epoch the log knows at or below it, and where that
// epoch's batches end (the start of the next epoch, or the log end offset
// for the current one); (-1, -1) for an epoch above every known one. A
// follower truncates to it before fetching; consumers (franz-go,
// librdkafka) use it after a leader change to detect truncation. A current
// leader epoch older than the partition's answers FENCED_LEADER_EPOCH, a
// newer one UNKNOWN_LEADER_EPOCH (KIP-320); -1 skips the check. The replica
// id (v3+) is accepted from clients (-1) and brokers alike.

func init() { register(23, 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			p, err := c.s.broker.Partition(rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = broker.ErrorCode(err)
			} else if code := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); code != 0 {
				sp.ErrorCode = code
			} else {
				sp.LeaderEpoch, sp.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
