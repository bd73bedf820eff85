package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit: v0-8 (v9 adds the new consumer protocol's member epochs and
// v10 topic ids).
//
// Members commit with their generation and member id (checked as Kafka
// does: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID,
// REBALANCE_IN_PROGRESS while awaiting the leader's assignment); clients
// outside any group commit with generation -1 and no member id, which only
// an empty group allows. Commit metadata (up to 4096 bytes) is kept. The
// commit is appended to __consumer_offsets in request order and answered,
// and made visible to OffsetFetch, once it is fsynced.

func init() { register(8, 0, 8, handleOffsetCommit) }

func handleOffsetCommit(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.OffsetCommitRequest)
	gc, cerr := c.groupCoordinator(req.Group)
	if cerr != nil {
		return now(offsetCommitFailed(req, cerr))
	}
	finish := gc.CommitOffsets(req)
	return func() reply { return msgReply{finish()} }
}

// offsetCommitFailed answers every partition of req with err.
func offsetCommitFailed(req *kmsg.OffsetCommitRequest, err *kerr.Error) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = err.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
