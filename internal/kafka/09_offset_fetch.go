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
// completed answers UNSTABLE_OFFSET_COMMIT (the client retries), so a
// consumer never starts from offsets an ending transaction is replacing.

func init() { register(9, 0, 8, handleOffsetFetch) }

func handleOffsetFetch(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.OffsetFetchRequest)
	// Pending offsets are looked up before the committed ones: offsets a
	// transaction applies meanwhile are still reported unstable.
	var pending []map[txnPartition]bool
	if req.RequireStable && c.s.broker.Txn() != nil {
		if req.Version >= 8 {
			for _, g := range req.Groups {
				pending = append(pending, pendingOffsets(c, g.Group))
			}
		} else {
			pending = append(pending, pendingOffsets(c, req.Group))
		}
	}
	resp := c.s.broker.Groups().FetchOffsets(req)
	if len(pending) == 0 {
		return now(resp)
	}
	if req.Version >= 8 {
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if i >= len(pending) || pending[i] == nil {
				continue
			}
			for j := range g.Topics {
				t := &g.Topics[j]
				for k := range t.Partitions {
					if p := &t.Partitions[k]; p.ErrorCode == 0 && pending[i][txnPartition{t.Topic, p.Partition}] {
						p.ErrorCode = kerr.UnstableOffsetCommit.Code
						p.Offset = -1
					}
				}
			}
		}
		return now(resp)
	}
	if pending[0] != nil {
		for j := range resp.Topics {
			t := &resp.Topics[j]
			for k := range t.Partitions {
				if p := &t.Partitions[k]; p.ErrorCode == 0 && pending[0][txnPartition{t.Topic, p.Partition}] {
					p.ErrorCode = kerr.UnstableOffsetCommit.Code
					p.Offset = -1
				}
			}
		}
	}
	return now(resp)
}

type txnPartition struct {
	topic     string
	partition int32
}

func pendingOffsets(c *conn, group string) map[txnPartition]bool {
	ps := c.s.broker.Txn().PendingOffsets(group)
	if len(ps) == 0 {
		return nil
	}
	out := make(map[txnPartition]bool, len(ps))
	for p := range ps {
		out[txnPartition{p.Topic, p.Partition}] = true
	}
	return out
}
