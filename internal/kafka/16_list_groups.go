package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups: v0-5.
//
// Every group this broker coordinates (over all its partitions of
// __consumer_offsets), including groups that only hold offsets committed
// from outside a group (empty protocol type); admin clients ask every
// broker and merge. v4 filters by state (case-insensitive), v5 by type:
// "classic", or "consumer" for KIP-848 groups (states Empty, Reconciling,
// Stable). While a partition led here is still loading the answer is
// COORDINATOR_LOAD_IN_PROGRESS, as in Kafka, so the listing is never
// silently short.

func init() { register(16, 0, 5, handleListGroups) }

func handleListGroups(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if c.s.broker.CoordinatorsLoading() {
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return now(resp)
	}
	for _, gc := range c.s.broker.GroupCoordinators() {
		part := gc.ListGroups(req)
		if part.ErrorCode != 0 {
			continue // unloaded meanwhile: its groups moved on
		}
		resp.Groups = append(resp.Groups, part.Groups...)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return now(resp)
}
