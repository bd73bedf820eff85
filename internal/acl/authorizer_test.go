package acl

import (
	"testing"

	"github.com/ferry-mq/ferry/internal/meta"
)

func bind(rt ResourceType, name string, pt PatternType, principal string, op Operation, perm Permission) meta.ACL {
	return meta.ACL{ResourceType: int8(rt), ResourceName: name, PatternType: int8(pt), Principal: principal, Host: "*", Operation: int8(op), Permission: int8(perm)}
}

func newTestAuthorizer(set **meta.ACLSet, superusers ...string) *Authorizer {
	return New(true, superusers, func() *meta.ACLSet { return *set })
}

func TestAuthorize(t *testing.T) {
	set := &meta.ACLSet{Bindings: []meta.ACL{
		bind(Topic, "orders", Literal, "User:alice", Write, Allow),
		bind(Topic, "logs-", Prefixed, "User:bob", Read, Allow),
		bind(Topic, "logs-secret", Literal, "User:bob", Read, Deny),
		bind(Topic, "*", Literal, "User:*", Describe, Allow),
		bind(Group, "g1", Literal, "User:bob", All, Allow),
		bind(Topic, "shared", Literal, "User:carol", All, Allow),
		bind(Topic, "shared", Literal, "User:carol", Delete, Deny),
		{ResourceType: int8(Topic), ResourceName: "local", PatternType: int8(Literal), Principal: "User:dan", Host: "10.0.0.1", Operation: int8(Read), Permission: int8(Allow)},
	}}
	a := newTestAuthorizer(&set, "User:admin")
	cases := []struct {
		principal, host string
		op              Operation
		rt              ResourceType
		name            string
		want            bool
	}{
		{"User:alice", "1.2.3.4", Write, Topic, "orders", true},
		{"User:alice", "1.2.3.4", Describe, Topic, "orders", true}, // implied by WRITE, and the wildcard
		{"User:alice", "1.2.3.4", Read, Topic, "orders", false},
		{"User:alice", "1.2.3.4", Write, Topic, "other", false},
		{"User:alice", "1.2.3.4", Create, Cluster, ClusterName, false},
		{"User:bob", "1.2.3.4", Read, Topic, "logs-app", true},
		{"User:bob", "1.2.3.4", Read, Topic, "logs-secret", false}, // deny wins
		{"User:bob", "1.2.3.4", Read, Topic, "log", false},
		{"User:bob", "1.2.3.4", Read, Group, "g1", true},
		{"User:bob", "1.2.3.4", Read, Group, "g2", false},
		{"User:eve", "1.2.3.4", Describe, Topic, "anything", true}, // User:* wildcard
		{"User:eve", "1.2.3.4", Read, Topic, "anything", false},
		{"User:carol", "1.2.3.4", Write, Topic, "shared", true},
		{"User:carol", "1.2.3.4", Delete, Topic, "shared", false},
		{"User:dan", "10.0.0.1", Read, Topic, "local", true},
		{"User:dan", "10.0.0.2", Read, Topic, "local", false},
		{"User:admin", "1.2.3.4", Delete, Cluster, ClusterName, true}, // superuser
		{"User:nobody", "1.2.3.4", Write, TransactionalID, "tx", false},
	}
	for _, c := range cases {
		if got := a.Authorize(c.principal, c.host, c.op, c.rt, c.name); got != c.want {
			t.Errorf("Authorize(%s, %s, op %d, type %d, %q) = %v, want %v", c.principal, c.host, c.op, c.rt, c.name, got, c.want)
		}
	}
}

func TestAuthorizeSeesChangesAtOnce(t *testing.T) {
	set := &meta.ACLSet{Bindings: []meta.ACL{bind(Topic, "t", Literal, "User:u", Read, Allow)}}
	a := newTestAuthorizer(&set)
	if !a.Authorize("User:u", "h", Read, Topic, "t") {
		t.Fatal("allowed binding not honoured")
	}
	set = &meta.ACLSet{} // a new image without the binding
	if a.Authorize("User:u", "h", Read, Topic, "t") {
		t.Fatal("removed binding still allows")
	}
}

func TestDisabledAllowsEverything(t *testing.T) {
	set := &meta.ACLSet{}
	a := New(false, nil, func() *meta.ACLSet { return set })
	if !a.Authorize("User:ANONYMOUS", "h", All, Cluster, ClusterName) {
		t.Fatal("a disabled authorizer denied")
	}
}

func TestAuthorizeAnyOf(t *testing.T) {
	cases := []struct {
		name     string
		bindings []meta.ACL
		want     bool
	}{
		{"none", nil, false},
		{"one topic", []meta.ACL{bind(Topic, "a", Literal, "User:u", Write, Allow)}, true},
		{"read only", []meta.ACL{bind(Topic, "a", Literal, "User:u", Read, Allow)}, false},
		{"denied by wildcard", []meta.ACL{bind(Topic, "a", Literal, "User:u", Write, Allow), bind(Topic, "*", Literal, "User:u", Write, Deny)}, false},
		{"denied by prefix", []meta.ACL{bind(Topic, "ab", Prefixed, "User:u", Write, Allow), bind(Topic, "a", Prefixed, "User:u", All, Deny)}, false},
		{"denied literally", []meta.ACL{bind(Topic, "a", Literal, "User:u", Write, Allow), bind(Topic, "a", Literal, "User:u", Write, Deny)}, false},
		{"other denied", []meta.ACL{bind(Topic, "a", Literal, "User:u", Write, Allow), bind(Topic, "b", Literal, "User:u", Write, Deny)}, true},
	}
	for _, c := range cases {
		set := &meta.ACLSet{Bindings: c.bindings}
		a := newTestAuthorizer(&set)
		if got := a.AuthorizeAnyOf("User:u", "h", Write, Topic); got != c.want {
			t.Errorf("%s: AuthorizeAnyOf = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	s := func(v string) *string { return &v }
	lit := bind(Topic, "orders", Literal, "User:a", Write, Allow)
	pre := bind(Topic, "ord", Prefixed, "User:a", Write, Allow)
	wild := bind(Topic, "*", Literal, "User:a", Write, Allow)
	grp := bind(Group, "orders", Literal, "User:a", Read, Allow)
	cases := []struct {
		name string
		f    Filter
		want [4]bool // lit, pre, wild, grp
	}{
		{"any", Filter{AnyResource, nil, AnyPattern, nil, nil, AnyOperation, AnyPermission}, [4]bool{true, true, true, true}},
		{"topics", Filter{Topic, nil, AnyPattern, nil, nil, AnyOperation, AnyPermission}, [4]bool{true, true, true, false}},
		{"literal name", Filter{Topic, s("orders"), Literal, nil, nil, AnyOperation, AnyPermission}, [4]bool{true, false, false, false}},
		{"match", Filter{Topic, s("orders"), MatchPattern, nil, nil, AnyOperation, AnyPermission}, [4]bool{true, true, true, false}},
		{"prefixed", Filter{AnyResource, nil, Prefixed, nil, nil, AnyOperation, AnyPermission}, [4]bool{false, true, false, false}},
		{"principal", Filter{AnyResource, nil, AnyPattern, s("User:b"), nil, AnyOperation, AnyPermission}, [4]bool{}},
		{"op", Filter{AnyResource, nil, AnyPattern, nil, s("*"), Read, Allow}, [4]bool{false, false, false, true}},
	}
	for _, c := range cases {
		for i, b := range []meta.ACL{lit, pre, wild, grp} {
			if got := c.f.Matches(b); got != c.want[i] {
				t.Errorf("%s: Matches(%+v) = %v, want %v", c.name, b, got, c.want[i])
			}
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	set := &meta.ACLSet{}
	for i := 0; i < 200; i++ {
		set.Bindings = append(set.Bindings, bind(Topic, "topic-"+string(rune('a'+i%26))+string(rune('a'+i/26)), Literal, "User:u", Write, Allow))
	}
	set.Bindings = append(set.Bindings, bind(Topic, "logs-", Prefixed, "User:u", Read, Allow), bind(Topic, "*", Literal, "User:*", Describe, Allow))
	a := newTestAuthorizer(&set)
	b.ReportAllocs()
	for b.Loop() {
		if !a.Authorize("User:u", "127.0.0.1", Write, Topic, "topic-ab") {
			b.Fatal("denied")
		}
	}
}

func TestAuthorizeAllocatesNothing(t *testing.T) {
	set := &meta.ACLSet{Bindings: []meta.ACL{bind(Topic, "t", Literal, "User:u", Write, Allow), bind(Topic, "t", Prefixed, "User:u", Read, Allow)}}
	a := newTestAuthorizer(&set)
	a.Authorize("User:u", "h", Write, Topic, "t") // builds the index
	if n := testing.AllocsPerRun(100, func() { a.Authorize("User:u", "h", Write, Topic, "t") }); n != 0 {
		t.Fatalf("Authorize allocates %v times per call", n)
	}
}
