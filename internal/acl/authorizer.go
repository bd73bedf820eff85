package acl

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Authorizer answers authorisation questions from the bindings of the
// newest metadata image. It is safe for concurrent use.
type Authorizer struct {
	enabled    bool
	superusers map[string]bool
	bindings   func() *meta.ACLSet // the current image's

	mu  sync.Mutex // serializes rebuilds of idx
	idx atomic.Pointer[index]
}

// New returns an authorizer that reads the bindings from source. When
// enabled is false every check passes, as before ACLs existed.
func New(enabled bool, superusers []string, source func() *meta.ACLSet) *Authorizer {
	a := &Authorizer{enabled: enabled, superusers: map[string]bool{}, bindings: source}
	for _, s := range superusers {
		a.superusers[s] = true
	}
	return a
}

// Enabled reports whether checks are enforced.
func (a *Authorizer) Enabled() bool { return a != nil && a.enabled }

// Superuser reports whether principal passes every check.
func (a *Authorizer) Superuser(principal string) bool { return a.superusers[principal] }

// Authorize reports whether principal, connected from host, may do op on
// the resource of type rt named name. It allocates nothing.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if !a.Enabled() || a.superusers[principal] {
		return true
	}
	ti := &a.index().byType[rt]
	allowed := false
	// A deny anywhere wins, so every candidate is visited.
	for _, set := range [2][]meta.ACL{ti.literal[name], ti.literal[Wildcard]} {
		for i := range set {
			switch decide(&set[i], principal, host, op) {
			case verdictDeny:
				return false
			case verdictAllow:
				allowed = true
			}
		}
	}
	for i := range ti.prefixed {
		b := &ti.prefixed[i]
		if !strings.HasPrefix(name, b.ResourceName) {
			continue
		}
		switch decide(b, principal, host, op) {
		case verdictDeny:
			return false
		case verdictAllow:
			allowed = true
		}
	}
	return allowed
}

// AuthorizeAnyOf reports whether principal may do op on at least one
// resource of type rt: some allow binding for it that no deny binding
// covers. Kafka 2.8+ lets a producer with WRITE on any topic be
// idempotent without the cluster's IDEMPOTENT_WRITE this way.
func (a *Authorizer) AuthorizeAnyOf(principal, host string, op Operation, rt ResourceType) bool {
	if !a.Enabled() || a.superusers[principal] {
		return true
	}
	ti := &a.index().byType[rt]
	var denyAll bool
	var denyPrefixes []string // built only on this rare path
	for _, b := range ti.all {
		if decide(&b, principal, host, op) != verdictDeny {
			continue
		}
		switch {
		case PatternType(b.PatternType) == Literal && b.ResourceName == Wildcard:
			denyAll = true
		case PatternType(b.PatternType) == Prefixed:
			denyPrefixes = append(denyPrefixes, b.ResourceName)
		}
	}
	if denyAll {
		return false
	}
	for _, b := range ti.all {
		if decide(&b, principal, host, op) != verdictAllow {
			continue
		}
		covered := false
		for _, p := range denyPrefixes {
			if strings.HasPrefix(b.ResourceName, p) {
				covered = true
				break
			}
		}
		if !covered && !ti.deniedLiteral(b, principal, host, op) {
			return true
		}
	}
	return false
}

// deniedLiteral reports whether a literal deny names b's resource exactly.
func (ti *typeIndex) deniedLiteral(b meta.ACL, principal, host string, op Operation) bool {
	if PatternType(b.PatternType) != Literal {
		return false
	}
	for i, set := 0, ti.literal[b.ResourceName]; i < len(set); i++ {
		if decide(&set[i], principal, host, op) == verdictDeny {
			return true
		}
	}
	return false
}

type verdict int8

const (
	verdictNone verdict = iota
	verdictDeny
	verdictAllow
)

// decide says what b says about principal doing op from host.
func decide(b *meta.ACL, principal, host string, op Operation) verdict {
	if b.Principal != principal && !(b.Principal == AnyUser && strings.HasPrefix(principal, principalPrefix)) {
		return verdictNone
	}
	if b.Host != Wildcard && b.Host != host {
		return verdictNone
	}
	bop := Operation(b.Operation)
	if Permission(b.Permission) == Deny {
		if bop == All || bop == op {
			return verdictDeny
		}
		return verdictNone
	}
	if bop == All || bop == op || implies(bop, op) {
		return verdictAllow
	}
	return verdictNone
}

// implies holds Kafka's implied operations: reading, writing, deleting
// or altering a resource lets one describe it, and altering configs lets
// one describe them.
func implies(granted, wanted Operation) bool {
	switch wanted {
	case Describe:
		return granted == Read || granted == Write || granted == Delete || granted == Alter
	case DescribeConfigs:
		return granted == AlterConfigs
	}
	return false
}

// index is the bindings of one ACLSet arranged for lookups.
type index struct {
	src    *meta.ACLSet
	byType [numResourceTypes]typeIndex
}

type typeIndex struct {
	literal  map[string][]meta.ACL // by resource name; "*" holds wildcards
	prefixed []meta.ACL
	all      []meta.ACL
}

// index returns the index of the current bindings, rebuilding it when the
// image's ACL set has changed since.
func (a *Authorizer) index() *index {
	src := a.bindings()
	if idx := a.idx.Load(); idx != nil && idx.src == src {
		return idx
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if idx := a.idx.Load(); idx != nil && idx.src == src {
		return idx
	}
	idx := buildIndex(src)
	a.idx.Store(idx)
	return idx
}

func buildIndex(src *meta.ACLSet) *index {
	idx := &index{src: src}
	for i := range idx.byType {
		idx.byType[i].literal = map[string][]meta.ACL{}
	}
	for _, b := range src.Bindings {
		if b.ResourceType < 0 || int(b.ResourceType) >= numResourceTypes {
			continue
		}
		ti := &idx.byType[b.ResourceType]
		ti.all = append(ti.all, b)
		if PatternType(b.PatternType) == Prefixed {
			ti.prefixed = append(ti.prefixed, b)
		} else {
			ti.literal[b.ResourceName] = append(ti.literal[b.ResourceName], b)
		}
	}
	return idx
}
