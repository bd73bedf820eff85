package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// ListOffsets: v1-7.
//
// Timestamp -1 is the latest offset: the high watermark, or with
// isolation_level=1 (read_committed) the last stable offset; -2 the earliest, -3 the
// batch holding the largest timestamp (KIP-734); any other value finds the
// first record, in offset order, whose timestamp is at least that, and
// answers with its offset and its own timestamp (the log looks inside the
// batch). No match gives offset -1, as Kafka does. The answer carries the
// partition's leader epoch; a current leader epoch (v4+) older than it
// answers FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH (KIP-320).

func init() { register(2, 1, 7, handleListOffsets) }

func handleListOffsets(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			p, err := c.s.broker.Partition(rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = broker.ErrorCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if code := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); code != 0 {
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if rp.Timestamp != -2 {
				// Latest, max timestamp and time lookups answer from
				// the high watermark: not before a new leader has it.
				if err := p.CheckEstablished(); err != nil {
					sp.ErrorCode = broker.ErrorCode(err)
					st.Partitions = append(st.Partitions, sp)
					continue
				}
			}
			sp.LeaderEpoch = p.LeaderEpoch()
			l := p.Log()
			sp.Timestamp = -1
			switch rp.Timestamp {
			case -1:
				sp.Offset = p.HighWatermark()
				if req.IsolationLevel == 1 {
					sp.Offset = p.LastStableOffset()
				}
			case -2:
				sp.Offset = l.StartOffset()
			case -3:
				sp.Offset, sp.Timestamp = l.MaxTimestamp()
			default:
				offset, ts, found := l.OffsetForTime(rp.Timestamp)
				if found && offset < p.HighWatermark() {
					sp.Offset, sp.Timestamp = offset, ts
				} else {
					sp.Offset = -1
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
