package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteGroups: v0-2.
//
// Only groups without members can be deleted (NON_EMPTY_GROUP otherwise;
// GROUP_ID_NOT_FOUND for unknown ones). Their offsets and metadata are
// tombstoned in __consumer_offsets.

func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(c *conn, kreq kmsg.Request) finisher {
	return now(c.s.broker.Groups().DeleteGroups(kreq.(*kmsg.DeleteGroupsRequest)))
}
