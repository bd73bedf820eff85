package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stable brings up a group whose members joined with opts (one option list
// per member) and returns the member ids (leader first) and generation.
func stable(t *testing.T, c *Coordinator, groupID string, members ...[]joinOpt) ([]string, int32) {
	t.Helper()
	var ids []string
	var chans []<-chan *kmsg.JoinGroupResponse
	for i, opts := range members {
		var id string
		var ch <-chan *kmsg.JoinGroupResponse
		if joinReq(groupID, "", opts...).InstanceID == nil {
			id, ch = newMember(t, c, groupID, opts...)
		} else {
			ch = c.Join(joinReq(groupID, "", opts...), "client", "/h") // static: no two-step
		}
		ids = append(ids, id)
		chans = append(chans, ch)
		if i == 0 {
			// The first member's generation completes at once; the
			// next joins rebalance it, so it rejoins.
			r := mustReady(t, ch, "first member join")
			wantCode(t, "first member join", r.ErrorCode, nil)
			ids[0] = r.MemberID
			chans[0] = nil
		}
	}
	if len(members) > 1 {
		chans[0] = c.Join(joinReq(groupID, ids[0], members[0]...), "client", "/h")
	} else {
		chans[0] = nil
	}
	var gen int32
	var leader string
	for i, ch := range chans {
		if ch == nil {
			continue
		}
		r := mustReady(t, ch, "join")
		wantCode(t, "join", r.ErrorCode, nil)
		ids[i] = r.MemberID
		gen, leader = r.Generation, r.LeaderID
	}
	if len(members) == 1 {
		d := describe(t, c, groupID)
		leader = d.Members[0].MemberID
		gen = 1
	}
	assign := map[string]string{}
	for _, id := range ids {
		assign[id] = "assignment-of-" + id
	}
	var followers []<-chan *kmsg.SyncGroupResponse
	for _, id := range ids {
		if id != leader {
			followers = append(followers, c.Sync(syncReq(groupID, id, gen, nil)))
		}
	}
	for _, f := range followers {
		mustWait(t, f, "follower sync before the leader's")
	}
	lr := mustReady(t, c.Sync(syncReq(groupID, leader, gen, assign)), "leader sync")
	wantCode(t, "leader sync", lr.ErrorCode, nil)
	for _, f := range followers {
		r := mustReady(t, f, "follower sync")
		wantCode(t, "follower sync", r.ErrorCode, nil)
	}
	if d := describe(t, c, groupID); d.State != "Stable" {
		t.Fatalf("state %s, want Stable", d.State)
	}
	out := []string{leader}
	for _, id := range ids {
		if id != leader {
			out = append(out, id)
		}
	}
	return out, gen
}

func TestJoinSyncHeartbeatLeave(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", nil, nil)
	a, b := ids[0], ids[1]
	if gen != 2 {
		t.Fatalf("generation %d, want 2 (one for each member's arrival)", gen)
	}
	for _, id := range ids {
		wantCode(t, "heartbeat", heartbeat(c, "g", id, gen), nil)
	}
	// The follower gets exactly the leader's bytes.
	r := mustReady(t, c.Sync(syncReq("g", b, gen, nil)), "sync in Stable")
	if string(r.MemberAssignment) != "assignment-of-"+b {
		t.Fatalf("assignment %q", r.MemberAssignment)
	}

	// A third member starts a rebalance; the others learn from heartbeats.
	cID, cJoin := newMember(t, c, "g")
	mustWait(t, cJoin, "newcomer join")
	wantCode(t, "heartbeat during rebalance", heartbeat(c, "g", a, gen), kerr.RebalanceInProgress)
	wantCode(t, "sync during rebalance", mustReady(t, c.Sync(syncReq("g", a, gen, nil)), "sync").ErrorCode, kerr.RebalanceInProgress)
	aJoin := c.Join(joinReq("g", a), "client", "/h")
	mustWait(t, aJoin, "rejoin while b is missing")
	bJoin := c.Join(joinReq("g", b), "client", "/h")
	ra, rb, rc := mustReady(t, aJoin, "a"), mustReady(t, bJoin, "b"), mustReady(t, cJoin, "c")
	if ra.Generation != gen+1 || rb.Generation != gen+1 || rc.Generation != gen+1 {
		t.Fatalf("generations %d %d %d, want %d", ra.Generation, rb.Generation, rc.Generation, gen+1)
	}
	if ra.LeaderID != a || len(ra.Members) != 3 || len(rb.Members) != 0 {
		t.Fatalf("leader %s with %d members, follower got %d", ra.LeaderID, len(ra.Members), len(rb.Members))
	}
	gen++

	// b leaves: the rest rebalance at once.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 5
	lr.Group = "g"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = b
	lr.Members = append(lr.Members, lm)
	resp := c.Leave(lr)
	wantCode(t, "leave", resp.Members[0].ErrorCode, nil)
	if d := describe(t, c, "g"); d.State != "PreparingRebalance" || len(d.Members) != 2 {
		t.Fatalf("after leave: %s with %d members", d.State, len(d.Members))
	}
	aJoin = c.Join(joinReq("g", a), "client", "/h")
	cJoin = c.Join(joinReq("g", cID), "client", "/h")
	if r := mustReady(t, aJoin, "a"); r.Generation != gen+1 || len(r.Members) != 2 {
		t.Fatalf("after leave: generation %d with %d members", r.Generation, len(r.Members))
	}
	mustReady(t, cJoin, "c")
	wantCode(t, "heartbeat of the member that left", heartbeat(c, "g", b, gen+1), kerr.UnknownMemberID)
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", nil, nil)
	a, b := ids[0], ids[1]
	// a heartbeats, b is silent.
	for elapsed := time.Duration(0); elapsed <= session; elapsed += time.Second {
		clk.advance(time.Second)
		heartbeat(c, "g", a, gen)
		c.Tick()
	}
	d := describe(t, c, "g")
	if d.State != "PreparingRebalance" || len(d.Members) != 1 || d.Members[0].MemberID != a {
		t.Fatalf("after b's session expired: %s %+v", d.State, d.Members)
	}
	r := mustReady(t, c.Join(joinReq("g", a), "client", "/h"), "a rejoins")
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("generation %d with %d members", r.Generation, len(r.Members))
	}
	wantCode(t, "b's heartbeat", heartbeat(c, "g", b, gen), kerr.UnknownMemberID)
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", nil, nil)
	a, b := ids[0], ids[1]
	// The leader rejoins: a rebalance. b keeps heartbeating but never rejoins.
	aJoin := c.Join(joinReq("g", a), "client", "/h")
	for elapsed := time.Duration(0); elapsed < rebalance-time.Second; elapsed += time.Second {
		clk.advance(time.Second)
		wantCode(t, "b heartbeat", heartbeat(c, "g", b, gen), kerr.RebalanceInProgress)
		c.Tick()
		mustWait(t, aJoin, "join before the rebalance timeout")
	}
	clk.advance(time.Second)
	c.Tick()
	r := mustReady(t, aJoin, "join after the rebalance timeout")
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("generation %d with %d members", r.Generation, len(r.Members))
	}
	wantCode(t, "b heartbeat", heartbeat(c, "g", b, gen), kerr.UnknownMemberID)
}

func TestVanishedLeaderDoesNotStallSync(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", nil, nil)
	a, b := ids[0], ids[1]
	aJoin := c.Join(joinReq("g", a), "client", "/h")
	bJoin := c.Join(joinReq("g", b), "client", "/h")
	mustReady(t, aJoin, "a")
	mustReady(t, bJoin, "b")
	// b waits in SyncGroup; the leader never syncs nor heartbeats.
	bSync := c.Sync(syncReq("g", b, gen+1, nil))
	clk.advance(session + time.Second)
	c.Tick()
	r := mustReady(t, bSync, "follower sync after the leader vanished")
	wantCode(t, "follower sync", r.ErrorCode, kerr.RebalanceInProgress)
	r2 := mustReady(t, c.Join(joinReq("g", b), "client", "/h"), "b rejoins")
	if r2.LeaderID != b || len(r2.Members) != 1 {
		t.Fatalf("leader %s, %d members", r2.LeaderID, len(r2.Members))
	}
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", []joinOpt{withInstance("ia")}, []joinOpt{withInstance("ib")})
	leader, follower := ids[0], ids[1]
	var followerInstance string
	for _, m := range describe(t, c, "g").Members {
		if m.MemberID == follower {
			followerInstance = *m.InstanceID
		}
	}
	// The follower restarts: it joins with its instance id and no member id.
	r := mustReady(t, c.Join(joinReq("g", "", withInstance(followerInstance)), "client", "/h"), "static rejoin")
	wantCode(t, "static rejoin", r.ErrorCode, nil)
	if r.Generation != gen || r.MemberID == follower || r.LeaderID != leader {
		t.Fatalf("static rejoin: generation %d (want %d), member %s (old %s), leader %s", r.Generation, gen, r.MemberID, follower, r.LeaderID)
	}
	if d := describe(t, c, "g"); d.State != "Stable" {
		t.Fatalf("state %s after static rejoin, want Stable", d.State)
	}
	s := mustReady(t, c.Sync(syncReq("g", r.MemberID, gen, nil)), "sync")
	if string(s.MemberAssignment) != "assignment-of-"+follower {
		t.Fatalf("assignment after rejoin %q, want the old one", s.MemberAssignment)
	}
	// The old incarnation is fenced.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", follower, gen, &followerInstance
	wantCode(t, "old incarnation heartbeat", c.Heartbeat(hb).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "old member id without instance", heartbeat(c, "g", follower, gen), kerr.UnknownMemberID)
	jr := mustReady(t, c.Join(joinReq("g", follower, withInstance(followerInstance)), "client", "/h"), "old incarnation join")
	wantCode(t, "old incarnation join", jr.ErrorCode, kerr.FencedInstanceID)
}

func TestGroupErrors(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	ids, gen := stable(t, c, "g", nil)
	a := ids[0]
	wantCode(t, "wrong generation", heartbeat(c, "g", a, gen+5), kerr.IllegalGeneration)
	wantCode(t, "unknown member", heartbeat(c, "g", "nobody", gen), kerr.UnknownMemberID)
	wantCode(t, "unknown group", heartbeat(c, "nogroup", a, gen), kerr.UnknownMemberID)
	r := mustReady(t, c.Join(joinReq("g", "", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }), "c", "/h"), "join")
	wantCode(t, "other protocol type", r.ErrorCode, kerr.InconsistentGroupProtocol)
	r = mustReady(t, c.Join(joinReq("g", "", withProtocols("sticky")), "c", "/h"), "join")
	wantCode(t, "no common protocol", r.ErrorCode, kerr.InconsistentGroupProtocol)
	r = mustReady(t, c.Join(joinReq("g", "", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 100 }), "c", "/h"), "join")
	wantCode(t, "session timeout too short", r.ErrorCode, kerr.InvalidSessionTimeout)
	r = mustReady(t, c.Join(joinReq("g", "made-up"), "c", "/h"), "join")
	wantCode(t, "unknown member id", r.ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "sync wrong generation", mustReady(t, c.Sync(syncReq("g", a, gen-1, nil)), "sync").ErrorCode, kerr.IllegalGeneration)

	wantCode(t, "commit", commit(c, "g", a, gen, "t", map[int32]int64{0: 5}).Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "commit wrong generation", commit(c, "g", a, gen+1, "t", map[int32]int64{0: 6}).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "commit unknown member", commit(c, "g", "x", gen, "t", map[int32]int64{0: 6}).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "simple commit to a group with members", commit(c, "g", "", -1, "t", map[int32]int64{0: 6}).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)

	dr := kmsg.NewPtrDeleteGroupsRequest()
	dr.Groups = []string{"g", "none"}
	resp := c.DeleteGroups(dr)
	wantCode(t, "delete group with members", resp.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "delete unknown group", resp.Groups[1].ErrorCode, kerr.GroupIDNotFound)

	// v0-3 joins get a member id at once, without MEMBER_ID_REQUIRED.
	r = mustReady(t, c.Join(joinReq("g2", "", withVersion(3)), "c", "/h"), "v3 join")
	wantCode(t, "v3 join", r.ErrorCode, nil)
	if r.MemberID == "" || r.LeaderID != r.MemberID {
		t.Fatalf("v3 join: member %q leader %q", r.MemberID, r.LeaderID)
	}
}

func TestOffsetsReplayAndExpiry(t *testing.T) {
	clk := newFakeClock()
	l := &memLog{}
	c := newTestCoordinator(l, clk)
	ids, gen := stable(t, c, "g", nil)
	commit(c, "g", ids[0], gen, "t", map[int32]int64{0: 10, 1: 20})
	commit(c, "g", ids[0], gen, "t", map[int32]int64{1: 21})
	commit(c, "simple", "", -1, "u", map[int32]int64{3: 7})

	// A restart replays the log: offsets and the Stable group come back.
	c2 := newTestCoordinator(l, clk)
	if err := c2.Load(); err != nil {
		t.Fatal(err)
	}
	if got := fetchAll(c2, "g"); got["t"][0] != 10 || got["t"][1] != 21 || len(got["t"]) != 2 {
		t.Fatalf("offsets after replay: %v", got)
	}
	if got := fetchAll(c2, "simple"); got["u"][3] != 7 {
		t.Fatalf("simple offsets after replay: %v", got)
	}
	if d := describe(t, c2, "g"); d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("group after replay: %s with %d members", d.State, len(d.Members))
	}
	wantCode(t, "heartbeat after replay", heartbeat(c2, "g", ids[0], gen), nil)

	// The member leaves; the empty group's offsets expire after the retention.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 1
	lr.Group, lr.MemberID = "g", ids[0]
	wantCode(t, "leave", c2.Leave(lr).ErrorCode, nil)
	if d := describe(t, c2, "g"); d.State != "Empty" {
		t.Fatalf("state %s, want Empty", d.State)
	}
	clk.advance(testConfig().OffsetsRetention - time.Minute)
	c2.Tick()
	if got := fetchAll(c2, "g"); len(got["t"]) != 2 {
		t.Fatalf("offsets expired early: %v", got)
	}
	clk.advance(testConfig().RetentionCheckInterval + time.Minute)
	c2.Tick()
	if got := fetchAll(c2, "g"); len(got) != 0 {
		t.Fatalf("offsets not expired: %v", got)
	}
	if d := describe(t, c2, "g"); d.State != "Dead" {
		t.Fatalf("expired group is %s, want Dead (gone)", d.State)
	}
	// The expiry is durable.
	c3 := newTestCoordinator(l, clk)
	if err := c3.Load(); err != nil {
		t.Fatal(err)
	}
	if got := fetchAll(c3, "g"); len(got) != 0 {
		t.Fatalf("expired offsets came back: %v", got)
	}
	if got := fetchAll(c3, "simple"); len(got) != 0 {
		t.Fatalf("simple offsets not expired: %v", got)
	}
}

func TestDeleteGroupAndOffsets(t *testing.T) {
	clk := newFakeClock()
	l := &memLog{}
	c := newTestCoordinator(l, clk)
	commit(c, "g", "", -1, "t", map[int32]int64{0: 1, 1: 2})
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g"
	rt := kmsg.NewOffsetDeleteRequestTopic()
	rt.Topic = "t"
	rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
	od.Topics = append(od.Topics, rt)
	wantCode(t, "offset delete", c.DeleteOffsets(od).ErrorCode, nil)
	if got := fetchAll(c, "g"); len(got["t"]) != 1 || got["t"][1] != 2 {
		t.Fatalf("after offset delete: %v", got)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 5
	lg.StatesFilter = []string{"empty"}
	if groups := c.ListGroups(lg).Groups; len(groups) != 1 || groups[0].Group != "g" || groups[0].GroupState != "Empty" {
		t.Fatalf("list groups: %+v", groups)
	}
	dr := kmsg.NewPtrDeleteGroupsRequest()
	dr.Groups = []string{"g"}
	wantCode(t, "delete group", c.DeleteGroups(dr).Groups[0].ErrorCode, nil)
	c2 := newTestCoordinator(l, clk)
	if err := c2.Load(); err != nil {
		t.Fatal(err)
	}
	if groups := c2.ListGroups(kmsg.NewPtrListGroupsRequest()).Groups; len(groups) != 0 {
		t.Fatalf("deleted group came back: %+v", groups)
	}
}

// TestCommitSurvivesExpiryDuringItsFsync: a commit from outside any group
// creates an empty group with no offsets yet; if the periodic expiry ran
// while the commit's fsync was in flight, it dropped that group and the
// commit's offsets were never applied, though the commit was acknowledged and
// its record stayed in the log (OffsetFetch answered -1 until a restart; seen
// as a flaky TestOffsetCommitFetchEveryVersion under load).
func TestCommitSurvivesExpiryDuringItsFsync(t *testing.T) {
	clk := newFakeClock()
	c := newTestCoordinator(&memLog{}, clk)
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.Generation = "simple", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 42
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)

	finish := c.CommitOffsets(r) // appended; the fsync is "running"
	clk.advance(testConfig().RetentionCheckInterval + time.Second)
	c.Tick() // expiry runs meanwhile
	resp := finish()
	wantCode(t, "commit", resp.Topics[0].Partitions[0].ErrorCode, nil)
	if got := fetchAll(c, "simple"); got["t"][0] != 42 {
		t.Fatalf("offsets after an acknowledged commit: %v, want t/0 at 42", got)
	}
}
