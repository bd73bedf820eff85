package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// CreateAcls: v0-3.
//
// Adds bindings (v0 has no pattern type: literal). Each creation is
// validated on its own and gets its own result; the valid ones are
// written in one metadata update, so they take effect together. A binding
// that exists already is accepted and stays one binding. Needs ALTER on
// the cluster when checks are enforced.

func init() { register(30, 0, 3, handleCreateACLs) }

func handleCreateACLs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	var recs []meta.Record
	var written []int
	for i, cr := range req.Creations {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
		pt := cr.ResourcePatternType
		if req.Version == 0 {
			pt = kmsg.ACLResourcePatternTypeLiteral
		}
		b := meta.ACL{ResourceType: int8(cr.ResourceType), ResourceName: cr.ResourceName, PatternType: int8(pt),
			Principal: cr.Principal, Host: cr.Host, Operation: int8(cr.Operation), Permission: int8(cr.PermissionType)}
		if err := acl.Validate(b); err != nil {
			resp.Results[i].ErrorCode = kerr.InvalidRequest.Code
			msg := err.Error()
			resp.Results[i].ErrorMessage = &msg
			continue
		}
		recs = append(recs, meta.Record{ACL: &meta.ACLRecord{ACL: b}})
		written = append(written, i)
	}
	if len(recs) > 0 {
		_, err := c.s.broker.UpdateSecurity(func(*meta.Image) ([]meta.Record, error) { return recs, nil })
		if err != nil {
			code, msg := broker.ErrorCode(err), broker.ErrorMessage(err)
			for _, i := range written {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = code, &msg
			}
		} else {
			c.log.Info("acls created", "count", len(recs), "principal", c.effectivePrincipal())
		}
	}
	return now(resp)
}
