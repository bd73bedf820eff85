package meta

import (
	"fmt"
	"maps"
	"slices"
)

// ACL is one access-control binding in Kafka's model. The small integers
// are Kafka's wire codes (kmsg.ACLResourceType and friends), so a binding
// goes to and from the wire unchanged; package acl gives them meaning.
type ACL struct {
	ResourceType int8   `json:"resource_type"` // 2 topic, 3 group, 4 cluster, 5 transactional id
	ResourceName string `json:"resource_name"` // "*" with pattern literal: every resource
	PatternType  int8   `json:"pattern_type"`  // 3 literal, 4 prefixed
	Principal    string `json:"principal"`     // "User:alice", "User:*"
	Host         string `json:"host"`          // client IP or "*"
	Operation    int8   `json:"operation"`     // 2 all, 3 read, 4 write …
	Permission   int8   `json:"permission"`    // 2 deny, 3 allow
}

// ACLRecord adds a binding, or removes it (Remove). Adding one that exists
// or removing one that does not changes nothing: concurrent CreateAcls and
// DeleteAcls may race to the same binding.
type ACLRecord struct {
	ACL    ACL  `json:"acl"`
	Remove bool `json:"remove,omitempty"`
}

// QuotaName names one part of a quota entity: absent (not part of the
// entity), the default, or a given name.
type QuotaName struct {
	Set     bool   `json:"set,omitempty"`
	Default bool   `json:"default,omitempty"`
	Name    string `json:"name,omitempty"`
}

// QuotaEntity is what a client quota applies to: a user, a client id, or
// both; each part a name or the default.
type QuotaEntity struct {
	User     QuotaName `json:"user"`
	ClientID QuotaName `json:"client_id"`
}

// QuotaRecord sets (Value non-nil) or removes (nil) one quota of an
// entity: producer_byte_rate, consumer_byte_rate or request_percentage.
type QuotaRecord struct {
	Entity QuotaEntity `json:"entity"`
	Key    string      `json:"key"`
	Value  *float64    `json:"value"`
}

// ACLSet is the image's bindings. It is immutable, and a new one is made
// on every change, so a reader may cache what it derives from it and
// compare pointers to know when to derive again.
type ACLSet struct {
	Bindings []ACL
}

// QuotaSet is the image's client quotas, immutable as ACLSet is.
type QuotaSet struct {
	Entities map[QuotaEntity]map[string]float64
}

var (
	emptyACLs   = &ACLSet{}
	emptyQuotas = &QuotaSet{Entities: map[QuotaEntity]map[string]float64{}}
)

// ACLs returns the image's bindings; never nil.
func (img *Image) ACLs() *ACLSet {
	if img.acls == nil {
		return emptyACLs
	}
	return img.acls
}

// Quotas returns the image's client quotas; never nil.
func (img *Image) Quotas() *QuotaSet {
	if img.quotas == nil {
		return emptyQuotas
	}
	return img.quotas
}

func (img *Image) applyACL(r *ACLRecord) (*ACLSet, error) {
	if r.ACL.Principal == "" || r.ACL.Host == "" || r.ACL.ResourceName == "" {
		return nil, fmt.Errorf("acl %+v lacks a principal, host or resource name", r.ACL)
	}
	cur := img.ACLs().Bindings
	i := slices.Index(cur, r.ACL)
	switch {
	case r.Remove && i < 0, !r.Remove && i >= 0:
		return img.ACLs(), nil
	case r.Remove:
		return &ACLSet{Bindings: slices.Delete(slices.Clone(cur), i, i+1)}, nil
	default:
		return &ACLSet{Bindings: append(slices.Clone(cur), r.ACL)}, nil
	}
}

func (img *Image) applyQuota(r *QuotaRecord) (*QuotaSet, error) {
	e := r.Entity
	if !e.User.Set && !e.ClientID.Set {
		return nil, fmt.Errorf("quota %q for an empty entity", r.Key)
	}
	if r.Value != nil && *r.Value <= 0 {
		return nil, fmt.Errorf("quota %q must be positive, got %v", r.Key, *r.Value)
	}
	next := maps.Clone(img.Quotas().Entities)
	vals := maps.Clone(next[e])
	if r.Value == nil {
		delete(vals, r.Key)
	} else {
		if vals == nil {
			vals = map[string]float64{}
		}
		vals[r.Key] = *r.Value
	}
	if len(vals) == 0 {
		delete(next, e)
	} else {
		next[e] = vals
	}
	return &QuotaSet{Entities: next}, nil
}
