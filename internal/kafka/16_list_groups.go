package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// ListGroups: v0-5.
//
// Every group this node coordinates, including groups that only hold
// offsets committed from outside a group (empty protocol type). v4 filters
// by state (case-insensitive), v5 by type: "classic", or "consumer" for
// KIP-848 groups (states Empty, Reconciling, Stable).

func init() { register(16, 0, 5, handleListGroups) }

func handleListGroups(c *conn, kreq kmsg.Request) finisher {
	return now(c.s.broker.Groups().ListGroups(kreq.(*kmsg.ListGroupsRequest)))
}
