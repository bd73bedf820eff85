package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch: v0-8 (v8 fetches for many groups at once).
//
// A partition with nothing committed answers offset -1. A null topic list
// (v2+) returns every committed offset of the group. With require_stable
// (v7+) a partition that has offsets committed inside a transaction not yet
// completed (pending in the group coordinator until the transaction's
// marker) answers UNSTABLE_OFFSET_COMMIT (the client retries), so a
// consumer never starts from offsets an ending transaction is replacing.

func init() { register(9, 0, 8, handleOffsetFetch) }

func handleOffsetFetch(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.OffsetFetchRequest)
	if req.Version < 8 {
		return now(fetchGroupOffsets(c, req))
	}
	// v8 names many groups, perhaps on several coordinators: answer
	// each from its own.
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	for _, rg := range req.Groups {
		one := *req
		one.Groups = []kmsg.OffsetFetchRequestGroup{rg}
		got := fetchGroupOffsets(c, &one)
		if len(got.Groups) == 0 {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			g.ErrorCode = kerr.UnknownServerError.Code
			got.Groups = append(got.Groups, g)
		}
		resp.Groups = append(resp.Groups, got.Groups[0])
	}
	return now(resp)
}

// fetchGroupOffsets answers an OffsetFetch for one group (a v8 request
// holding one group) from the group's coordinator.
func fetchGroupOffsets(c *conn, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	id := req.Group
	if req.Version >= 8 {
		id = req.Groups[0].Group
	}
	gc, cerr := c.groupCoordinator(id)
	if cerr != nil {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		if req.Version >= 8 {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = id, cerr.Code
			resp.Groups = append(resp.Groups, g)
			return resp
		}
		resp.ErrorCode = cerr.Code
		for _, rt := range req.Topics { // v0-1 have no top-level error
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.ErrorCode = p, -1, cerr.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	// With require_stable the coordinator answers UNSTABLE_OFFSET_COMMIT
	// for offsets pending in a transaction.
	return gc.FetchOffsets(req)
}
