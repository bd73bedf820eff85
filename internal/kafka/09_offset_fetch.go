package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetFetch: v0-8 (v8 fetches for many groups at once).
//
// A partition with nothing committed answers offset -1. A null topic list
// (v2+) returns every committed offset of the group. require_stable (v7+)
// is always satisfied: there are no pending transactional commits.

func init() { register(9, 0, 8, handleOffsetFetch) }

func handleOffsetFetch(c *conn, kreq kmsg.Request) finisher {
	return now(c.s.broker.Groups().FetchOffsets(kreq.(*kmsg.OffsetFetchRequest)))
}
