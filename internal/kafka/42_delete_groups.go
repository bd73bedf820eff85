package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteGroups: v0-2.
//
// Only groups without members can be deleted (NON_EMPTY_GROUP otherwise;
// GROUP_ID_NOT_FOUND for unknown ones). Their offsets and metadata are
// tombstoned in __consumer_offsets.

func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		gc, cerr := c.groupCoordinator(id)
		if cerr != nil {
			dg := kmsg.NewDeleteGroupsResponseGroup()
			dg.Group, dg.ErrorCode = id, cerr.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		one := *req
		one.Groups = []string{id}
		resp.Groups = append(resp.Groups, gc.DeleteGroups(&one).Groups...)
	}
	return now(resp)
}
