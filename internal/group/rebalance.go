package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The rebalance mechanics shared by the request handlers and Tick.
// Every function here REQUIRES: c.mu held.

// addMemberLocked adds a member that is joining and moves the group into
// (or along) a rebalance.
func (c *Coordinator) addMemberLocked(g *group, m *member, now time.Time) {
	g.joinSeq++
	m.joinSeq = g.joinSeq
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if len(g.members) == 1 {
		g.protocolType = m.protocolType
	}
	if g.state == PreparingRebalance && g.initialDelay {
		// Each newcomer during the initial delay buys the others one
		// more delay, up to the rebalance timeout.
		g.rebalanceDeadline = minTime(now.Add(c.cfg.InitialRebalanceDelay), g.initialDelayCap)
	}
	c.rebalanceLocked(g, now, "member joined")
}

// removeMemberLocked drops a member; the caller moves the rebalance on
// with rebalanceLocked.
func (c *Coordinator) removeMemberLocked(g *group, m *member, err *kerr.Error) {
	m.failWaiters(err)
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
	}
}

// rebalanceLocked starts a rebalance, or, if one is running, completes it
// when every member has rejoined.
func (c *Coordinator) rebalanceLocked(g *group, now time.Time, reason string) {
	switch g.state {
	case PreparingRebalance:
		c.maybeCompleteJoinLocked(g, now)
		return
	case Empty:
		if len(g.members) == 0 {
			return
		}
	}
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				resp := g.syncResponse(m, m.syncVersion)
				resp.ErrorCode = kerr.RebalanceInProgress.Code
				resp.MemberAssignment = []byte{}
				m.sync <- resp
				m.sync = nil
			}
		}
	}
	wasEmpty := g.state == Empty
	g.setState(PreparingRebalance, now)
	timeout := g.maxRebalanceTimeout()
	g.initialDelay = wasEmpty && c.cfg.InitialRebalanceDelay > 0
	if g.initialDelay {
		g.initialDelayCap = now.Add(timeout)
		g.rebalanceDeadline = minTime(now.Add(c.cfg.InitialRebalanceDelay), g.initialDelayCap)
	} else {
		g.rebalanceDeadline = now.Add(timeout)
	}
	c.logger.Info("group rebalancing", "group", g.id, "generation", g.generation, "members", len(g.members), "reason", reason)
	c.maybeCompleteJoinLocked(g, now)
}

func (c *Coordinator) maybeCompleteJoinLocked(g *group, now time.Time) {
	if g.state == PreparingRebalance && !g.initialDelay && g.allJoined() {
		c.completeJoinLocked(g, now)
	}
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// dropped, the generation advances, and every waiting join is answered.
func (c *Coordinator) completeJoinLocked(g *group, now time.Time) {
	for _, m := range g.members {
		if m.join == nil {
			c.logger.Info("member removed: did not rejoin within the rebalance timeout", "group", g.id, "member", m.id)
			c.removeMemberLocked(g, m, kerr.UnknownMemberID)
		}
	}
	g.initialDelay = false
	g.generation++
	if len(g.members) == 0 {
		g.setState(Empty, now)
		g.protocol, g.leader = "", ""
		c.writeGroupLocked(g)
		c.logger.Info("group is empty", "group", g.id, "generation", g.generation)
		return
	}
	g.protocol = c.pickProtocol(g)
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.sortedMembers()[0].id
	}
	g.setState(CompletingRebalance, now)
	g.syncDeadline = now.Add(g.maxRebalanceTimeout())
	for _, m := range g.members {
		m.join <- g.joinResponse(m, m.joinVersion)
		m.join = nil
		m.expires = now.Add(m.sessionTimeout)
	}
	c.logger.Info("group joined", "group", g.id, "generation", g.generation, "protocol", g.protocol, "leader", g.leader, "members", len(g.members))
}

func (c *Coordinator) pickProtocol(g *group) string { return g.selectProtocol() }

// tickGroupLocked applies the deadlines that passed by now.
func (c *Coordinator) tickGroupLocked(g *group, now time.Time) {
	changed := false
	for id, exp := range g.pending {
		if !now.Before(exp) {
			delete(g.pending, id) // may let a waiting join complete
		}
	}
	for _, m := range g.members {
		if m.join != nil || m.sync != nil || now.Before(m.expires) {
			continue
		}
		c.logger.Info("member removed: session timed out", "group", g.id, "member", m.id, "session_timeout", m.sessionTimeout)
		c.removeMemberLocked(g, m, kerr.UnknownMemberID)
		changed = true
	}
	switch g.state {
	case PreparingRebalance:
		if !now.Before(g.rebalanceDeadline) {
			c.completeJoinLocked(g, now)
			return
		}
	case CompletingRebalance:
		if !now.Before(g.syncDeadline) {
			for _, m := range g.members {
				if m.sync == nil {
					c.logger.Info("member removed: no SyncGroup within the rebalance timeout", "group", g.id, "member", m.id)
					c.removeMemberLocked(g, m, kerr.UnknownMemberID)
				}
			}
			changed = true
		}
	}
	if changed {
		c.rebalanceLocked(g, now, "members left or timed out")
	} else {
		c.maybeCompleteJoinLocked(g, now)
	}
	if g.state == Empty && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && g.committing == 0 && !g.persisted && !g.hasConsumerMembers() {
		delete(c.groups, g.id) // never used: a failed join's leftover
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
