package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/meta"
)

// DescribeClientQuotas: v0-1.
//
// Lists the stored quotas of the entities the components select: each
// component names an entity type (user, client-id) and matches a name
// exactly, the default, or any; with strict, an entity may have no other
// part. Needs DESCRIBE_CONFIGS on the cluster when checks are enforced.

func init() { register(48, 0, 1, handleDescribeClientQuotas) }

func handleDescribeClientQuotas(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	for _, comp := range req.Components {
		if comp.EntityType != "user" && comp.EntityType != "client-id" {
			resp.ErrorCode = kerr.InvalidRequest.Code
			msg := "entity type " + comp.EntityType + " is not supported; use user or client-id"
			resp.ErrorMessage = &msg
			return now(resp)
		}
	}
	for e, vals := range c.s.broker.Image().Quotas().Entities {
		if !quotaEntityMatches(e, req.Components, req.Strict) {
			continue
		}
		re := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, part := range []struct {
			typ string
			n   meta.QuotaName
		}{{"user", e.User}, {"client-id", e.ClientID}} {
			if !part.n.Set {
				continue
			}
			ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ent.Type = part.typ
			if !part.n.Default {
				name := part.n.Name
				ent.Name = &name
			}
			re.Entity = append(re.Entity, ent)
		}
		for k, v := range vals {
			val := kmsg.NewDescribeClientQuotasResponseEntryValue()
			val.Key, val.Value = k, v
			re.Values = append(re.Values, val)
		}
		sort.Slice(re.Values, func(i, j int) bool { return re.Values[i].Key < re.Values[j].Key })
		resp.Entries = append(resp.Entries, re)
	}
	return now(resp)
}

func quotaEntityMatches(e meta.QuotaEntity, comps []kmsg.DescribeClientQuotasRequestComponent, strict bool) bool {
	seen := map[string]bool{}
	for _, comp := range comps {
		n := e.User
		if comp.EntityType == "client-id" {
			n = e.ClientID
		}
		seen[comp.EntityType] = true
		if !n.Set {
			return false
		}
		switch comp.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if n.Default || comp.Match == nil || n.Name != *comp.Match {
				return false
			}
		case kmsg.QuotasMatchTypeDefault:
			if !n.Default {
				return false
			}
		}
	}
	if strict {
		if e.User.Set && !seen["user"] || e.ClientID.Set && !seen["client-id"] {
			return false
		}
	}
	return true
}
