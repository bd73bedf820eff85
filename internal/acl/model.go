package acl

import (
	"fmt"
	"strings"

	"github.com/ferry-mq/ferry/internal/meta"
)

// ResourceType, PatternType, Operation and Permission hold Kafka's wire
// codes (as kmsg.ACLResourceType and friends).
type (
	ResourceType int8
	PatternType  int8
	Operation    int8
	Permission   int8
)

const (
	AnyResource             ResourceType = 1
	Topic                   ResourceType = 2
	Group                   ResourceType = 3
	Cluster                 ResourceType = 4
	TransactionalID         ResourceType = 5
	numResourceTypes                     = 6
	AnyPattern              PatternType  = 1
	MatchPattern            PatternType  = 2
	Literal                 PatternType  = 3
	Prefixed                PatternType  = 4
	AnyOperation            Operation    = 1
	All                     Operation    = 2
	Read                    Operation    = 3
	Write                   Operation    = 4
	Create                  Operation    = 5
	Delete                  Operation    = 6
	Alter                   Operation    = 7
	Describe                Operation    = 8
	ClusterAction           Operation    = 9
	DescribeConfigs         Operation    = 10
	AlterConfigs            Operation    = 11
	IdempotentWrite         Operation    = 12
	AnyPermission           Permission   = 1
	Deny                    Permission   = 2
	Allow                   Permission   = 3
	ClusterName                          = "kafka-cluster" // the one cluster resource's name
	Wildcard                             = "*"
	AnyUser                              = "User:*"
	Anonymous                            = "User:ANONYMOUS"
	principalPrefix                      = "User:"
	maxOperation            Operation    = IdempotentWrite
	minConcreteResourceType              = Topic
)

// Validate reports why b cannot be stored, or nil. The message is for the
// client (CreateAcls' error message).
func Validate(b meta.ACL) error {
	rt := ResourceType(b.ResourceType)
	if rt < minConcreteResourceType || rt > TransactionalID {
		return fmt.Errorf("resource type %d is not topic, group, cluster or transactional id", b.ResourceType)
	}
	if pt := PatternType(b.PatternType); pt != Literal && pt != Prefixed {
		return fmt.Errorf("pattern type %d is not literal or prefixed", b.PatternType)
	}
	if op := Operation(b.Operation); op < All || op > maxOperation {
		return fmt.Errorf("operation %d is not a concrete operation", b.Operation)
	}
	if p := Permission(b.Permission); p != Allow && p != Deny {
		return fmt.Errorf("permission %d is not allow or deny", b.Permission)
	}
	if typ, name, ok := strings.Cut(b.Principal, ":"); !ok || typ != "User" || name == "" {
		return fmt.Errorf("principal %q is not of the form User:NAME", b.Principal)
	}
	if b.Host == "" {
		return fmt.Errorf("empty host; use * for every host")
	}
	if b.ResourceName == "" {
		return fmt.Errorf("empty resource name")
	}
	if rt == Cluster && b.ResourceName != ClusterName {
		return fmt.Errorf("the cluster resource is named %s, not %q", ClusterName, b.ResourceName)
	}
	return nil
}

// Filter selects bindings, as DescribeAcls and DeleteAcls do. A nil string
// matches anything; the Any* codes match every value.
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// ValidFilter reports why f is not a filter Kafka accepts, or nil.
func ValidFilter(f Filter) error {
	if f.ResourceType < AnyResource || f.ResourceType > TransactionalID {
		return fmt.Errorf("resource type %d is unknown", f.ResourceType)
	}
	if f.PatternType < AnyPattern || f.PatternType > Prefixed {
		return fmt.Errorf("pattern type %d is unknown", f.PatternType)
	}
	if f.Operation < AnyOperation || f.Operation > maxOperation {
		return fmt.Errorf("operation %d is unknown", f.Operation)
	}
	if f.Permission < AnyPermission || f.Permission > Allow {
		return fmt.Errorf("permission %d is unknown", f.Permission)
	}
	return nil
}

// Matches reports whether f selects b. Pattern MATCH selects the bindings
// that apply to the named resource: the literal name, the literal
// wildcard and every prefix of it.
func (f Filter) Matches(b meta.ACL) bool {
	if f.ResourceType != AnyResource && int8(f.ResourceType) != b.ResourceType {
		return false
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != AnyOperation && int8(f.Operation) != b.Operation {
		return false
	}
	if f.Permission != AnyPermission && int8(f.Permission) != b.Permission {
		return false
	}
	switch f.PatternType {
	case AnyPattern:
		return f.ResourceName == nil || *f.ResourceName == b.ResourceName
	case MatchPattern:
		if f.ResourceName == nil {
			return true
		}
		return patternApplies(b, *f.ResourceName)
	default:
		return int8(f.PatternType) == b.PatternType && (f.ResourceName == nil || *f.ResourceName == b.ResourceName)
	}
}

// patternApplies reports whether b's resource pattern covers name.
func patternApplies(b meta.ACL, name string) bool {
	if PatternType(b.PatternType) == Prefixed {
		return strings.HasPrefix(name, b.ResourceName)
	}
	return b.ResourceName == name || b.ResourceName == Wildcard
}
