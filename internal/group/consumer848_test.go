package group

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State-machine tests of KIP-848 consumer groups on a fake clock.

var topicT = TopicInfo{Name: "t", ID: [16]byte{1}, Partitions: 12}

func new848(t *testing.T, topics ...TopicInfo) (*Coordinator, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg := testConfig()
	cfg.Consumer = ConsumerConfig{SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second, MaxSize: 5}
	c := New(cfg, &memLog{}, Options{Now: clk.Now, Topics: func() []TopicInfo { return topics }})
	return c, clk
}

// cm is a well-behaved client: it owns what it was last assigned and
// reports it with every heartbeat.
type cm struct {
	t        *testing.T
	c        *Coordinator
	group    string
	id       string
	instance *string
	assignor *string
	epoch    int32
	owned    map[int32]bool // partitions of topicT
}

func newCM(t *testing.T, c *Coordinator, group, id string) *cm {
	return &cm{t: t, c: c, group: group, id: id, owned: map[int32]bool{}}
}

func (m *cm) req() *kmsg.ConsumerGroupHeartbeatRequest {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.MemberEpoch = m.group, m.id, m.epoch
	r.InstanceID = m.instance
	r.RebalanceTimeoutMillis = 5000
	r.SubscribedTopicNames = []string{"t"}
	r.ServerAssignor = m.assignor
	r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if len(m.owned) > 0 {
		rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		rt.TopicID = topicT.ID
		rt.Partitions = slices.Sorted(maps.Keys(m.owned))
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// hb heartbeats, applies the answer and returns it.
func (m *cm) hb() *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	return m.send(m.req())
}

func (m *cm) send(r *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	resp := m.c.ConsumerHeartbeat(r, m.id+"-client", "/127.0.0.1")
	if resp.ErrorCode != 0 {
		return resp
	}
	if resp.MemberID != nil {
		m.id = *resp.MemberID
	}
	m.epoch = resp.MemberEpoch
	if resp.Assignment != nil {
		m.owned = map[int32]bool{}
		for _, t := range resp.Assignment.Topics {
			for _, p := range t.Partitions {
				m.owned[p] = true
			}
		}
	}
	return resp
}

func (m *cm) ok() {
	m.t.Helper()
	resp := m.hb()
	wantCode(m.t, "heartbeat of "+m.id, resp.ErrorCode, nil)
}

// checkDisjoint fails if the coordinator lets two members own a partition
// or if any client believes it owns a partition another client owns.
func checkDisjoint(t *testing.T, c *Coordinator, group string, clients ...*cm) {
	t.Helper()
	seen := map[int32]string{}
	for _, m := range clients {
		for p := range m.owned {
			if o, ok := seen[p]; ok {
				t.Fatalf("partition %d owned by clients %s and %s", p, o, m.id)
			}
			seen[p] = m.id
		}
	}
	r := kmsg.NewPtrConsumerGroupDescribeRequest()
	r.Groups = []string{group}
	g := c.ConsumerGroupDescribe(r).Groups[0]
	owners := map[string]string{}
	for _, dm := range g.Members {
		for _, tp := range dm.Assignment.TopicPartitions {
			for _, p := range tp.Partitions {
				k := fmt.Sprint(tp.Topic, p)
				if o, ok := owners[k]; ok {
					t.Fatalf("broker: %s owned by %s and %s", k, o, dm.MemberID)
				}
				owners[k] = dm.MemberID
			}
		}
	}
	// Whatever a client consumes, the broker counts as its.
	for _, m := range clients {
		for p := range m.owned {
			if o := owners[fmt.Sprint("t", p)]; o != m.id {
				t.Fatalf("client %s consumes partition %d the broker gives to %q", m.id, p, o)
			}
		}
	}
}

func describe848(t *testing.T, c *Coordinator, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	r := kmsg.NewPtrConsumerGroupDescribeRequest()
	r.Groups = []string{group}
	return c.ConsumerGroupDescribe(r).Groups[0]
}

// settle heartbeats every client round-robin until the group is Stable.
func settle(t *testing.T, c *Coordinator, group string, clients ...*cm) {
	t.Helper()
	for range 10 {
		for _, m := range clients {
			m.ok()
			checkDisjoint(t, c, group, clients...)
		}
		if describe848(t, c, group).State == cgStable {
			return
		}
	}
	t.Fatalf("group not stable: %+v", describe848(t, c, group))
}

func counts(clients ...*cm) []int {
	var out []int
	for _, m := range clients {
		out = append(out, len(m.owned))
	}
	return out
}

func TestConsumer848JoinAndBalance(t *testing.T) {
	c, _ := new848(t, topicT)
	a, b, d := newCM(t, c, "g", "a"), newCM(t, c, "g", "b"), newCM(t, c, "g", "d")
	a.ok()
	if len(a.owned) != 12 || a.epoch != 1 {
		t.Fatalf("first member: epoch %d owns %d", a.epoch, len(a.owned))
	}
	b.ok()
	d.ok()
	settle(t, c, "g", a, b, d)
	if got := counts(a, b, d); !slices.Equal(got, []int{4, 4, 4}) {
		t.Fatalf("counts %v", got)
	}
	g := describe848(t, c, "g")
	if g.Epoch != 3 || g.AssignmentEpoch != 3 || g.AssignorName != "uniform" {
		t.Fatalf("describe: epoch %d assignment epoch %d assignor %s", g.Epoch, g.AssignmentEpoch, g.AssignorName)
	}
	for _, m := range g.Members {
		if m.MemberEpoch != 3 {
			t.Fatalf("member %s epoch %d", m.MemberID, m.MemberEpoch)
		}
	}
	// ListGroups and DescribeGroups see a consumer group.
	lr := kmsg.NewPtrListGroupsRequest()
	lr.Version = 5
	lr.TypesFilter = []string{"consumer"}
	lg := c.ListGroups(lr)
	if len(lg.Groups) != 1 || lg.Groups[0].GroupType != "consumer" || lg.Groups[0].GroupState != "Stable" {
		t.Fatalf("list groups: %+v", lg.Groups)
	}
	dg := describe(t, c, "g")
	if dg.ProtocolType != "consumer" || len(dg.Members) != 3 {
		t.Fatalf("describe groups: %+v", dg)
	}
	var as kmsg.ConsumerMemberAssignment
	if err := as.ReadFrom(dg.Members[0].MemberAssignment); err != nil || len(as.Topics) != 1 || len(as.Topics[0].Partitions) != 4 {
		t.Fatalf("describe groups assignment: %v %+v", err, as)
	}
}

func TestConsumer848RevokeBeforeReassign(t *testing.T) {
	c, _ := new848(t, topicT)
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	a.ok()
	aEpoch := a.epoch
	b.ok() // joins: target moves 6 of a's partitions to b
	if len(b.owned) != 0 {
		t.Fatalf("b got %v while a still owns everything", b.owned)
	}
	if b.epoch != 2 {
		t.Fatalf("b epoch %d", b.epoch)
	}
	// a is told to give up 6 and keeps its epoch until it has.
	stillOwned := maps.Clone(a.owned)
	resp := a.send(a.req())
	if resp.MemberEpoch != aEpoch || len(a.owned) != 6 {
		t.Fatalf("a: epoch %d owns %d", resp.MemberEpoch, len(a.owned))
	}
	// a keepalive (Topics nil) while a is still committing: nothing moves.
	keep := a.req()
	keep.Topics = nil
	keep.SubscribedTopicNames = nil
	if r := a.send(keep); r.ErrorCode != 0 {
		t.Fatalf("keepalive: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	b.ok()
	if len(b.owned) != 0 {
		t.Fatalf("b got %v before a released them", b.owned)
	}
	// A full heartbeat still listing the revoked partitions does not release them.
	full := a.req()
	full.Topics[0].Partitions = slices.Sorted(maps.Keys(stillOwned))
	a.send(full)
	b.ok()
	if len(b.owned) != 0 {
		t.Fatalf("b got %v before a released them", b.owned)
	}
	if g := describe848(t, c, "g"); g.State != cgReconciling {
		t.Fatalf("state %s", g.State)
	}
	checkDisjoint(t, c, "g", a, b)
	// a releases: it moves to the new epoch, then b gets the partitions.
	a.ok()
	if a.epoch != 2 {
		t.Fatalf("a epoch %d after releasing", a.epoch)
	}
	b.ok()
	if len(b.owned) != 6 {
		t.Fatalf("b owns %d after a released", len(b.owned))
	}
	checkDisjoint(t, c, "g", a, b)
	if g := describe848(t, c, "g"); g.State != cgStable {
		t.Fatalf("state %s", g.State)
	}
}

func TestConsumer848LeaveAndSessionTimeout(t *testing.T) {
	c, clk := new848(t, topicT)
	a, b, d := newCM(t, c, "g", "a"), newCM(t, c, "g", "b"), newCM(t, c, "g", "d")
	settle(t, c, "g", a, b, d)

	leave := a.req()
	leave.MemberEpoch = -1
	resp := c.ConsumerHeartbeat(leave, "a", "/h")
	if resp.ErrorCode != 0 || resp.MemberEpoch != -1 {
		t.Fatalf("leave: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	a.owned = nil
	settle(t, c, "g", b, d)
	if got := counts(b, d); !slices.Equal(got, []int{6, 6}) {
		t.Fatalf("after leave %v", got)
	}
	// The left member is unknown.
	wantCode(t, "heartbeat after leave", a.hb().ErrorCode, kerr.UnknownMemberID)

	// d goes silent; b keeps heartbeating. d's partitions stay d's until
	// its session times out, then move to b.
	for range 9 {
		clk.advance(time.Second)
		c.Tick()
		b.ok()
	}
	if len(b.owned) != 6 {
		t.Fatalf("b owns %d before d's session ended", len(b.owned))
	}
	clk.advance(2 * time.Second)
	c.Tick()
	b.ok()
	if len(b.owned) != 12 {
		t.Fatalf("b owns %d after d's session ended", len(b.owned))
	}
	wantCode(t, "heartbeat of expired member", d.hb().ErrorCode, kerr.UnknownMemberID)

	// The last member leaves: the group is Empty and offsets stay.
	wantCode(t, "commit", commit(c, "g", b.id, b.epoch, "t", map[int32]int64{0: 5}).Topics[0].Partitions[0].ErrorCode, nil)
	leave = b.req()
	leave.MemberEpoch = -1
	c.ConsumerHeartbeat(leave, "b", "/h")
	if g := describe848(t, c, "g"); g.State != cgEmpty || len(g.Members) != 0 {
		t.Fatalf("after last leave: %+v", g)
	}
	if got := fetchAll(c, "g")["t"][0]; got != 5 {
		t.Fatalf("offset %d", got)
	}
	// An empty consumer group can be deleted.
	dr := kmsg.NewPtrDeleteGroupsRequest()
	dr.Groups = []string{"g"}
	wantCode(t, "delete", c.DeleteGroups(dr).Groups[0].ErrorCode, nil)
}

func TestConsumer848RevocationTimeout(t *testing.T) {
	c, clk := new848(t, topicT)
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	a.ok()
	b.ok()
	a.ok() // told to revoke; never confirms, though it keeps its session with keepalives
	for range 6 {
		clk.advance(time.Second)
		keep := a.req()
		keep.Topics, keep.SubscribedTopicNames = nil, nil
		a.send(keep)
		b.ok()
		c.Tick()
	}
	// Past the 5s rebalance timeout a is fenced out; b gets everything.
	wantCode(t, "fenced member", a.hb().ErrorCode, kerr.UnknownMemberID)
	b.ok()
	if len(b.owned) != 12 {
		t.Fatalf("b owns %d", len(b.owned))
	}
}

func TestConsumer848Fencing(t *testing.T) {
	c, _ := new848(t, topicT)
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	settle(t, c, "g", a, b)

	r := a.req()
	r.MemberEpoch = a.epoch + 1
	wantCode(t, "future epoch", c.ConsumerHeartbeat(r, "a", "/h").ErrorCode, kerr.FencedMemberEpoch)
	r = a.req()
	r.MemberEpoch = a.epoch - 1
	r.Topics[0].Partitions = append(r.Topics[0].Partitions, slices.Sorted(maps.Keys(b.owned))[0])
	wantCode(t, "previous epoch owning more than assigned", c.ConsumerHeartbeat(r, "a", "/h").ErrorCode, kerr.FencedMemberEpoch)
	// The previous epoch with a subset of the assignment is a lost response: accepted.
	r = a.req()
	r.MemberEpoch = a.epoch - 1
	if a.epoch-1 > 0 {
		wantCode(t, "previous epoch", c.ConsumerHeartbeat(r, "a", "/h").ErrorCode, nil)
	}
	r = a.req()
	r.MemberID = "nobody"
	wantCode(t, "unknown member", c.ConsumerHeartbeat(r, "x", "/h").ErrorCode, kerr.UnknownMemberID)
	// Rejoining at epoch 0 with the same id gives the member its assignment back.
	had := maps.Clone(a.owned)
	a.epoch, a.owned = 0, map[int32]bool{}
	a.ok()
	if !maps.Equal(had, a.owned) {
		t.Fatalf("rejoin: %v, had %v", a.owned, had)
	}

	// Offset commits are checked against the member epoch.
	p := slices.Sorted(maps.Keys(a.owned))[0]
	code := commit(c, "g", a.id, a.epoch+1, "t", map[int32]int64{p: 1}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "commit with future epoch", code, kerr.FencedMemberEpoch)
	code = commit(c, "g", "nobody", a.epoch, "t", map[int32]int64{p: 1}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "commit of unknown member", code, kerr.UnknownMemberID)
	code = commit(c, "g", "", -1, "t", map[int32]int64{p: 1}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "simple commit to a group with members", code, kerr.UnknownMemberID)
	code = commit(c, "g", a.id, a.epoch, "t", map[int32]int64{p: 1}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "commit", code, nil)

	// A third member joins: the group epoch moves on. a's partitions it
	// keeps may still be committed at its old epoch; partitions it does not
	// own may not.
	d := newCM(t, c, "g", "d")
	d.ok()
	old := a.epoch
	settle(t, c, "g", a, b, d)
	if a.epoch == old {
		t.Fatal("a's epoch did not move")
	}
	kept := slices.Sorted(maps.Keys(a.owned))[0]
	code = commit(c, "g", a.id, old, "t", map[int32]int64{kept: 2}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "commit at the previous epoch of a kept partition", code, nil)
	notMine := slices.Sorted(maps.Keys(b.owned))[0]
	code = commit(c, "g", a.id, old, "t", map[int32]int64{notMine: 2}).Topics[0].Partitions[0].ErrorCode
	wantCode(t, "commit at an old epoch of another's partition", code, kerr.StaleMemberEpoch)
}

func TestConsumer848Static(t *testing.T) {
	c, _ := new848(t, topicT)
	inst := "i1"
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	a.instance = &inst
	settle(t, c, "g", a, b)
	epoch := describe848(t, c, "g").Epoch

	// Another process with the same instance id is refused while a lives.
	a2 := newCM(t, c, "g", "a2")
	a2.instance = &inst
	wantCode(t, "duplicate instance", a2.hb().ErrorCode, kerr.UnreleasedInstanceID)

	// a leaves for a while (-2): it keeps its partitions, no rebalance.
	r := a.req()
	r.MemberEpoch = -2
	resp := c.ConsumerHeartbeat(r, "a", "/h")
	if resp.ErrorCode != 0 || resp.MemberEpoch != -2 {
		t.Fatalf("static leave: %v %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	b.ok()
	if len(b.owned) != 6 {
		t.Fatalf("b owns %d while a is away", len(b.owned))
	}
	// Its restarted process takes over its assignment without a new epoch.
	a2.ok()
	if len(a2.owned) != 6 || !maps.Equal(a2.owned, a.owned) {
		t.Fatalf("restarted static member owns %v, a owned %v", a2.owned, a.owned)
	}
	if g := describe848(t, c, "g"); g.Epoch != epoch || len(g.Members) != 2 {
		t.Fatalf("epoch %d (was %d), %d members", g.Epoch, epoch, len(g.Members))
	}
	checkDisjoint(t, c, "g", a2, b)
}

func TestConsumer848Validation(t *testing.T) {
	c, _ := new848(t, topicT)
	base := func() *kmsg.ConsumerGroupHeartbeatRequest { return newCM(t, c, "g", "m").req() }
	cases := []struct {
		name string
		mod  func(r *kmsg.ConsumerGroupHeartbeatRequest)
		want error
	}{
		{"empty group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest},
		{"v1 without member id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest},
		{"join owning partitions", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topicT.ID, Partitions: []int32{0}}}
		}, kerr.InvalidRequest},
		{"join without subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest},
		{"join without rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -1 }, kerr.InvalidRequest},
		{"epoch -3", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest},
		{"static leave without instance", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -2 }, kerr.InvalidRequest},
		{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { s := "sticky"; r.ServerAssignor = &s }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) { s := "("; r.SubscribedTopicRegex = &s }, kerr.InvalidRegularExpression},
		{"unknown group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 3 }, kerr.UnknownMemberID},
	}
	for _, tc := range cases {
		r := base()
		tc.mod(r)
		wantCode(t, tc.name, c.ConsumerHeartbeat(r, "x", "/h").ErrorCode, tc.want)
	}

	// v0: the coordinator makes the member id.
	r := base()
	r.Version, r.MemberID = 0, ""
	resp := c.ConsumerHeartbeat(r, "x", "/h")
	if resp.ErrorCode != 0 || resp.MemberID == nil || *resp.MemberID == "" || resp.HeartbeatIntervalMillis != 1000 {
		t.Fatalf("v0 join: %+v", resp)
	}

	// The group's size is bounded.
	for i := range 4 {
		wantCode(t, "join", newCM(t, c, "g", fmt.Sprint("m", i)).hb().ErrorCode, nil)
	}
	wantCode(t, "sixth member", newCM(t, c, "g", "m9").hb().ErrorCode, kerr.GroupMaxSizeReached)

	// Classic and consumer groups do not mix while they have members.
	jr := mustReady(t, c.Join(joinReq("g", ""), "client", "/h"), "join")
	wantCode(t, "classic join to a consumer group", jr.ErrorCode, kerr.InconsistentGroupProtocol)
	_, ch := newMember(t, c, "classic")
	mustReady(t, ch, "classic join")
	wantCode(t, "consumer heartbeat to a classic group", newCM(t, c, "classic", "x").hb().ErrorCode, kerr.GroupIDNotFound)
	dr := kmsg.NewPtrConsumerGroupDescribeRequest()
	dr.Groups = []string{"classic", "none"}
	for _, g := range c.ConsumerGroupDescribe(dr).Groups {
		wantCode(t, "describe "+g.Group, g.ErrorCode, kerr.GroupIDNotFound)
	}
}

func TestConsumer848RangeAndRegex(t *testing.T) {
	other := TopicInfo{Name: "u-1", ID: [16]byte{2}, Partitions: 3}
	inside := TopicInfo{Name: "xu-2", ID: [16]byte{3}, Partitions: 1}
	topics := []TopicInfo{topicT, other, inside}
	c, _ := new848(t, topics...)
	rng := "range"
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	a.assignor, b.assignor = &rng, &rng
	settle(t, c, "g", a, b)
	g := describe848(t, c, "g")
	if g.AssignorName != "range" {
		t.Fatalf("assignor %s", g.AssignorName)
	}
	for _, m := range g.Members {
		ps := m.Assignment.TopicPartitions[0].Partitions
		want := []int32{0, 1, 2, 3, 4, 5}
		if m.MemberID == "b" {
			want = []int32{6, 7, 8, 9, 10, 11}
		}
		if !slices.Equal(ps, want) {
			t.Fatalf("range: %s owns %v", m.MemberID, ps)
		}
	}

	// A regex subscription matches whole names only.
	re := "u-.*"
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.RebalanceTimeoutMillis = "re", "r", 5000
	r.SubscribedTopicRegex = &re
	r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp := c.ConsumerHeartbeat(r, "r", "/h")
	if resp.ErrorCode != 0 || len(resp.Assignment.Topics) != 1 || resp.Assignment.Topics[0].TopicID != other.ID || len(resp.Assignment.Topics[0].Partitions) != 3 {
		t.Fatalf("regex: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Assignment)
	}
}

func TestConsumer848TopicGrows(t *testing.T) {
	topics := []TopicInfo{{Name: "t", ID: topicT.ID, Partitions: 4}}
	clk := newFakeClock()
	cfg := testConfig()
	c := New(cfg, &memLog{}, Options{Now: clk.Now, Topics: func() []TopicInfo { return topics }})
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	settle(t, c, "g", a, b)
	topics = []TopicInfo{{Name: "t", ID: topicT.ID, Partitions: 8}}
	settle(t, c, "g", a, b)
	if got := counts(a, b); !slices.Equal(got, []int{4, 4}) {
		t.Fatalf("after growing: %v", got)
	}
}

func TestConsumer848UniformSticky(t *testing.T) {
	ms := map[string]*cmember{}
	sub := map[string][]TopicInfo{}
	for _, id := range []string{"a", "b", "c"} {
		ms[id] = &cmember{id: id}
		sub[id] = []TopicInfo{{Name: "t", ID: topicT.ID, Partitions: 10}}
	}
	first := assignUniform(ms, sub)
	for id, tgt := range first {
		ms[id].target = tgt
		if n := len(tgt); n < 3 || n > 4 {
			t.Fatalf("%s gets %d of 10", id, n)
		}
	}
	// One more member: the others keep all but what it needs.
	ms["d"] = &cmember{id: "d"}
	sub["d"] = sub["a"]
	second := assignUniform(ms, sub)
	moved := 0
	for id, tgt := range second {
		if n := len(tgt); n < 2 || n > 3 {
			t.Fatalf("%s gets %d of 10", id, n)
		}
		for tp := range tgt {
			if id != "d" && !first[id][tp] {
				moved++
			}
		}
	}
	if moved != 0 {
		t.Fatalf("%d partitions moved between old members", moved)
	}
}

func txnCommitReq(group, member string, gen int32, topic string, ps ...int32) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.Group, r.MemberID, r.Generation = group, member, gen
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range ps {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 1
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
	return r
}

// TxnOffsetCommit from a KIP-848 member (franz-go's GroupTransactSession
// with the consumer protocol) is checked against the member epoch, as
// OffsetCommit is; a stale epoch is ILLEGAL_GENERATION, as Kafka answers
// TxnOffsetCommit.
func TestConsumer848TxnOffsetCommit(t *testing.T) {
	c, _ := new848(t, topicT)
	c.exists = func(string, int32) bool { return true }
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	settle(t, c, "g", a, b)
	mine := slices.Sorted(maps.Keys(a.owned))[0]
	notMine := slices.Sorted(maps.Keys(b.owned))[0]

	wantErr := func(what string, got, want *kerr.Error) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
	wantErr("member at its epoch", c.ValidateTxnMember(txnCommitReq("g", a.id, a.epoch, "t", mine)), nil)
	wantErr("no member fields", c.ValidateTxnMember(txnCommitReq("g", "", -1, "t", mine)), nil)
	wantErr("future epoch", c.ValidateTxnMember(txnCommitReq("g", a.id, a.epoch+1, "t", mine)), kerr.FencedMemberEpoch)
	wantErr("unknown member", c.ValidateTxnMember(txnCommitReq("g", "nobody", a.epoch, "t", mine)), kerr.UnknownMemberID)

	d := newCM(t, c, "g", "d")
	d.ok()
	old := a.epoch
	settle(t, c, "g", a, b, d)
	if a.epoch == old {
		t.Fatal("a's epoch did not move")
	}
	kept := slices.Sorted(maps.Keys(a.owned))[0]
	wantErr("old epoch, kept partition", c.ValidateTxnMember(txnCommitReq("g", a.id, old, "t", kept)), nil)
	wantErr("old epoch, another's partition", c.ValidateTxnMember(txnCommitReq("g", a.id, old, "t", notMine)), kerr.IllegalGeneration)
}

// A subscription regex is matched against every topic, internal ones
// included, as Kafka 4 resolves it (only DESCRIBE ACLs filter the
// matches): a member naming __consumer_offsets gets it.
func TestConsumer848RegexMatchesInternalTopics(t *testing.T) {
	offsets := TopicInfo{Name: "__consumer_offsets", ID: [16]byte{9}, Partitions: 2}
	c, _ := new848(t, topicT, offsets)
	for i, re := range []string{`\Q__consumer_offsets\E`, `__consumer_offsets`, `__consumer.*`} {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version = 1
		r.Group, r.MemberID, r.RebalanceTimeoutMillis = fmt.Sprintf("re%d", i), "r", 5000
		r.SubscribedTopicRegex = &re
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		resp := c.ConsumerHeartbeat(r, "r", "/h")
		if resp.ErrorCode != 0 || resp.Assignment == nil || len(resp.Assignment.Topics) != 1 ||
			resp.Assignment.Topics[0].TopicID != offsets.ID || !slices.Equal(resp.Assignment.Topics[0].Partitions, []int32{0, 1}) {
			t.Fatalf("regex %q: %v %+v", re, kerr.ErrorForCode(resp.ErrorCode), resp.Assignment)
		}
	}
}
