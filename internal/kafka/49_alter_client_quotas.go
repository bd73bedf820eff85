package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// AlterClientQuotas: v0-1.
//
// Sets or removes producer_byte_rate, consumer_byte_rate and
// request_percentage of entities made of a user and/or a client id (a
// null name is the default), stored as metadata records; enforcement uses
// the new values from the next request on. Each entry succeeds or fails
// on its own; validate_only checks without writing. Needs ALTER_CONFIGS
// on the cluster when checks are enforced.

func init() { register(49, 0, 1, handleAlterClientQuotas) }

func handleAlterClientQuotas(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		for _, ee := range e.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = ee.Type, ee.Name
			re.Entity = append(re.Entity, ent)
		}
		recs, err := quotaRecords(e)
		if err == nil && !req.ValidateOnly {
			_, err = c.s.broker.UpdateSecurity(func(*meta.Image) ([]meta.Record, error) { return recs, nil })
		}
		if err != nil {
			re.ErrorCode = broker.ErrorCode(err)
			msg := broker.ErrorMessage(err)
			re.ErrorMessage = &msg
		} else if !req.ValidateOnly {
			c.log.Info("client quotas altered", "entity", fmt.Sprint(quotaEntityString(e.Entity)), "ops", len(e.Ops), "principal", c.effectivePrincipal())
		}
		resp.Entries = append(resp.Entries, re)
	}
	return now(resp)
}

// quotaRecords turns one entry into records, or says why it is invalid.
func quotaRecords(e kmsg.AlterClientQuotasRequestEntry) ([]meta.Record, error) {
	entity, err := quotaEntity(e.Entity)
	if err != nil {
		return nil, err
	}
	var recs []meta.Record
	for _, op := range e.Ops {
		if !quotaKeys[op.Key] {
			return nil, fmt.Errorf("%w: unknown quota %q; use producer_byte_rate, consumer_byte_rate or request_percentage", kerr.InvalidRequest, op.Key)
		}
		r := &meta.QuotaRecord{Entity: entity, Key: op.Key}
		if !op.Remove {
			if !(op.Value > 0) || op.Value > 1e15 {
				return nil, fmt.Errorf("%w: quota %s=%v must be a positive number", kerr.InvalidRequest, op.Key, op.Value)
			}
			v := op.Value
			r.Value = &v
		}
		recs = append(recs, meta.Record{Quota: r})
	}
	return recs, nil
}

// quotaEntity reads an entity: at most one user and one client id.
func quotaEntity(parts []kmsg.AlterClientQuotasRequestEntryEntity) (meta.QuotaEntity, error) {
	var e meta.QuotaEntity
	for _, p := range parts {
		var n *meta.QuotaName
		switch p.Type {
		case "user":
			n = &e.User
		case "client-id":
			n = &e.ClientID
		default:
			return e, fmt.Errorf("%w: entity type %q is not supported; use user or client-id", kerr.InvalidRequest, p.Type)
		}
		if n.Set {
			return e, fmt.Errorf("%w: entity names %s twice", kerr.InvalidRequest, p.Type)
		}
		n.Set = true
		if p.Name == nil {
			n.Default = true
		} else {
			n.Name = *p.Name
		}
	}
	if !e.User.Set && !e.ClientID.Set {
		return e, fmt.Errorf("%w: empty quota entity", kerr.InvalidRequest)
	}
	return e, nil
}

func quotaEntityString(parts []kmsg.AlterClientQuotasRequestEntryEntity) string {
	s := ""
	for _, p := range parts {
		name := "<default>"
		if p.Name != nil {
			name = *p.Name
		}
		s += p.Type + "=" + name + " "
	}
	return s
}
