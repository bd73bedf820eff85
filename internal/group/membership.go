package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Join handles JoinGroup. The returned channel receives exactly one
// response: at once for errors and for members that need no rebalance, or
// when the rebalance this join takes part in completes.
func (c *Coordinator) Join(req *kmsg.JoinGroupRequest, clientID, clientHost string) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	memberID, err := c.joinLocked(req, clientID, clientHost, ch)
	if err != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = req.Version
		resp.ErrorCode = err.Code
		resp.Generation = -1
		resp.MemberID = memberID
		ch <- resp
	}
	return ch
}

// joinLocked either answers on ch, parks ch on a member, or returns an
// error (with the member id to report, for MEMBER_ID_REQUIRED).
// REQUIRES: c.mu held.
func (c *Coordinator) joinLocked(req *kmsg.JoinGroupRequest, clientID, clientHost string, ch chan *kmsg.JoinGroupResponse) (string, *kerr.Error) {
	now := c.now()
	if c.closed {
		return req.MemberID, kerr.NotCoordinator
	}
	if req.Group == "" {
		return req.MemberID, kerr.InvalidGroupID
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return req.MemberID, kerr.InvalidSessionTimeout
	}
	if req.Version >= 1 && req.RebalanceTimeoutMillis <= 0 {
		return req.MemberID, kerr.InvalidRequest
	}
	g, ok := c.groups[req.Group]
	if !ok {
		if req.MemberID != "" {
			return req.MemberID, kerr.UnknownMemberID
		}
		g = newGroup(req.Group, now)
		c.groups[req.Group] = g // dropped by Tick if nothing comes of it
	}
	if g.consumer != nil { // KIP-848 group
		if g.hasConsumerMembers() {
			return req.MemberID, kerr.InconsistentGroupProtocol
		}
		g.consumer = nil // an empty consumer group becomes classic
	}
	if !g.supports(req.ProtocolType, req.Protocols) {
		return req.MemberID, kerr.InconsistentGroupProtocol
	}
	park := func(m *member) {
		if m.join != nil {
			// The member joined again before the first join finished
			// (a retry on another connection): answer the old one.
			old := m.join
			m.join = nil
			resp := kmsg.NewPtrJoinGroupResponse()
			resp.Version = m.joinVersion
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			resp.Generation = -1
			resp.MemberID = m.id
			old <- resp
		}
		m.join, m.joinVersion = ch, req.Version
		m.expires = now.Add(m.sessionTimeout)
	}
	newMember := func(id string) *member {
		m := &member{id: id, instanceID: req.InstanceID}
		m.update(req, clientID, clientHost)
		park(m)
		c.addMemberLocked(g, m, now)
		return m
	}

	if req.MemberID == "" {
		switch {
		case req.InstanceID != nil:
			if oldID, ok := g.static[*req.InstanceID]; ok {
				c.replaceStaticLocked(g, g.members[oldID], req, clientID, clientHost, ch, now)
				return "", nil
			}
			newMember(newMemberID(clientID))
		case req.Version >= 4:
			// KIP-394: hand out an id and make the client come back
			// with it, so a client that never gets our answer leaves no
			// member behind.
			id := newMemberID(clientID)
			g.pending[id] = now.Add(session)
			return id, kerr.MemberIDRequired
		default:
			newMember(newMemberID(clientID))
		}
		return "", nil
	}

	if req.InstanceID != nil {
		if id, ok := g.static[*req.InstanceID]; ok && id != req.MemberID {
			return req.MemberID, kerr.FencedInstanceID
		}
	}
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		newMember(req.MemberID)
		return "", nil
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		return req.MemberID, kerr.UnknownMemberID
	}
	if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
		return req.MemberID, kerr.FencedInstanceID
	}
	switch g.state {
	case PreparingRebalance:
		m.update(req, clientID, clientHost)
		park(m)
		c.maybeCompleteJoinLocked(g, now)
	case CompletingRebalance:
		if m.sameProtocols(req.ProtocolType, req.Protocols) {
			// A resend of a join whose answer was lost.
			m.expires = now.Add(m.sessionTimeout)
			ch <- g.joinResponse(m, req.Version)
			return "", nil
		}
		m.update(req, clientID, clientHost)
		park(m)
		c.rebalanceLocked(g, now, "member changed its protocols")
	case Stable:
		if m.id != g.leader && m.sameProtocols(req.ProtocolType, req.Protocols) {
			m.expires = now.Add(m.sessionTimeout)
			ch <- g.joinResponse(m, req.Version)
			return "", nil
		}
		m.update(req, clientID, clientHost)
		park(m)
		reason := "member changed its protocols"
		if m.id == g.leader {
			reason = "leader rejoined"
		}
		c.rebalanceLocked(g, now, reason)
	default:
		return req.MemberID, kerr.UnknownMemberID
	}
	return "", nil
}

// replaceStaticLocked gives a static member that rejoined without its
// member id (a restarted process with the same group.instance.id) a new id,
// fencing the old one. A Stable group keeps its generation and the member
// its assignment unless its protocols changed.
// REQUIRES: c.mu held.
func (c *Coordinator) replaceStaticLocked(g *group, m *member, req *kmsg.JoinGroupRequest, clientID, clientHost string, ch chan *kmsg.JoinGroupResponse, now time.Time) {
	oldID := m.id
	m.failWaiters(kerr.FencedInstanceID)
	delete(g.members, oldID)
	m.id = newMemberID(clientID)
	g.members[m.id] = m
	g.static[*req.InstanceID] = m.id
	wasLeader := g.leader == oldID
	if wasLeader {
		g.leader = m.id
	}
	c.logger.Info("static member replaced", "group", g.id, "instance", *req.InstanceID, "old_member", oldID, "member", m.id)
	same := m.sameProtocols(req.ProtocolType, req.Protocols)
	m.update(req, clientID, clientHost)
	m.expires = now.Add(m.sessionTimeout)
	switch g.state {
	case Stable:
		// A leader older than v9 cannot be told to skip assignment
		// (KIP-814), so it gets a rebalance instead.
		if same && (!wasLeader || req.Version >= 9) {
			c.writeGroupLocked(g)
			resp := g.joinResponse(m, req.Version)
			resp.SkipAssignment = wasLeader
			ch <- resp
			return
		}
		m.join, m.joinVersion = ch, req.Version
		c.rebalanceLocked(g, now, "static member rejoined with new protocols")
	case PreparingRebalance:
		m.join, m.joinVersion = ch, req.Version
		c.maybeCompleteJoinLocked(g, now)
	default:
		m.join, m.joinVersion = ch, req.Version
		c.rebalanceLocked(g, now, "static member rejoined")
	}
}

// Sync handles SyncGroup. The channel receives one response: at once, or
// when the leader's assignment arrives (or the rebalance restarts).
func (c *Coordinator) Sync(req *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.syncLocked(req, ch); err != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = req.Version
		resp.ErrorCode = err.Code
		resp.MemberAssignment = []byte{}
		ch <- resp
	}
	return ch
}

// REQUIRES: c.mu held.
func (c *Coordinator) syncLocked(req *kmsg.SyncGroupRequest, ch chan *kmsg.SyncGroupResponse) *kerr.Error {
	now := c.now()
	if c.closed {
		return kerr.NotCoordinator
	}
	g, m, err := c.memberLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		return kerr.InconsistentGroupProtocol
	}
	switch g.state {
	case PreparingRebalance:
		return kerr.RebalanceInProgress
	case CompletingRebalance:
		if m.sync != nil {
			old := m.sync
			m.sync = nil
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.Version = m.syncVersion
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			old <- resp
		}
		m.sync, m.syncVersion = ch, req.Version
		m.expires = now.Add(m.sessionTimeout)
		if m.id != g.leader {
			return nil
		}
		given := make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			given[a.MemberID] = a.MemberAssignment
		}
		for _, o := range g.members {
			o.assignment = given[o.id]
		}
		g.setState(Stable, now)
		c.writeGroupLocked(g)
		for _, o := range g.members {
			if o.sync != nil {
				o.sync <- g.syncResponse(o, o.syncVersion)
				o.sync = nil
			}
		}
		c.logger.Info("group stable", "group", g.id, "generation", g.generation, "members", len(g.members))
		return nil
	case Stable:
		m.expires = now.Add(m.sessionTimeout)
		ch <- g.syncResponse(m, req.Version)
		return nil
	default:
		return kerr.UnknownMemberID
	}
}

// memberLocked finds a member for Sync, Heartbeat and OffsetCommit and
// applies Kafka's checks in Kafka's order.
// REQUIRES: c.mu held.
func (c *Coordinator) memberLocked(groupID, memberID string, instanceID *string, generation int32) (*group, *member, *kerr.Error) {
	g, ok := c.groups[groupID]
	if !ok {
		return nil, nil, kerr.UnknownMemberID
	}
	if instanceID != nil {
		if id, ok := g.static[*instanceID]; ok && id != memberID {
			return g, nil, kerr.FencedInstanceID
		}
	}
	m, ok := g.members[memberID]
	if !ok {
		return g, nil, kerr.UnknownMemberID
	}
	if generation != g.generation {
		return g, m, kerr.IllegalGeneration
	}
	return g, m, nil
}

// Heartbeat handles Heartbeat.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	now := c.now()
	g, m, err := c.memberLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	switch g.state {
	case Empty:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	case PreparingRebalance:
		m.expires = now.Add(m.sessionTimeout)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	default:
		m.expires = now.Add(m.sessionTimeout)
	}
	return resp
}

// Leave handles LeaveGroup: one member by id before v3, a batch of members
// by id and/or instance id from v3 (KIP-345).
func (c *Coordinator) Leave(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	now := c.now()
	g := c.groups[req.Group]
	removed := 0
	for _, l := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = l.MemberID, l.InstanceID
		if member, err := c.leaveOneLocked(g, l); err != nil {
			rm.ErrorCode = err.Code
		} else if member {
			removed++
		}
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	if removed > 0 {
		c.rebalanceLocked(g, now, "member left")
	} else if g != nil {
		c.maybeCompleteJoinLocked(g, now) // a pending id left
	}
	return resp
}

// leaveOneLocked removes one leaving member; member says whether it was a
// member (and not only a pending member id).
// REQUIRES: c.mu held.
func (c *Coordinator) leaveOneLocked(g *group, l kmsg.LeaveGroupRequestMember) (member bool, err *kerr.Error) {
	if g == nil {
		return false, kerr.UnknownMemberID
	}
	id := l.MemberID
	if l.InstanceID != nil {
		known, ok := g.static[*l.InstanceID]
		if !ok {
			return false, kerr.UnknownMemberID
		}
		if id != "" && id != known {
			return false, kerr.FencedInstanceID
		}
		id = known
	}
	if _, ok := g.pending[id]; ok {
		delete(g.pending, id)
		return false, nil
	}
	m, ok := g.members[id]
	if !ok {
		return false, kerr.UnknownMemberID
	}
	reason := ""
	if l.Reason != nil {
		reason = *l.Reason
	}
	c.logger.Info("member left", "group", g.id, "member", id, "reason", reason)
	c.removeMemberLocked(g, m, kerr.UnknownMemberID)
	return true, nil
}
