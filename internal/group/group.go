package group

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's place in the classic rebalance protocol.
type State int8

const (
	// Empty: no members; offsets may still be kept.
	Empty State = iota
	// PreparingRebalance: waiting for every member to (re)join.
	PreparingRebalance
	// CompletingRebalance: joined; waiting for the leader's assignment.
	CompletingRebalance
	// Stable: every member has its assignment and heartbeats.
	Stable
	// Dead: the group is being removed. Groups are dropped from the
	// coordinator when they die, so this is only ever reported for groups
	// that do not exist.
	Dead
)

// String returns Kafka's name for the state, as DescribeGroups and
// ListGroups report it.
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	default:
		return "Dead"
	}
}

var errNotCoordinator = kerr.NotCoordinator

type protocol struct {
	name     string
	metadata []byte
}

type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string
	joinSeq    uint64 // order of first join, for picking a leader

	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	// A waiting JoinGroup or SyncGroup, answered when the rebalance moves
	// on. A member with a waiter is kept alive without heartbeats.
	join        chan *kmsg.JoinGroupResponse
	joinVersion int16
	sync        chan *kmsg.SyncGroupResponse
	syncVersion int16

	expires time.Time // session deadline
}

// failWaiters answers a waiting join or sync with err.
func (m *member) failWaiters(err *kerr.Error) {
	if m.join != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVersion
		resp.ErrorCode = err.Code
		resp.Generation = -1
		resp.MemberID = m.id
		m.join <- resp
		m.join = nil
	}
	if m.sync != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = m.syncVersion
		resp.ErrorCode = err.Code
		m.sync <- resp
		m.sync = nil
	}
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func (m *member) sameProtocols(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if m.protocolType != protocolType || len(m.protocols) != len(ps) {
		return false
	}
	for i, p := range ps {
		if m.protocols[i].name != p.Name || !bytes.Equal(m.protocols[i].metadata, p.Metadata) {
			return false
		}
	}
	return true
}

func (m *member) update(req *kmsg.JoinGroupRequest, clientID, clientHost string) {
	m.clientID, m.clientHost = clientID, clientHost
	m.sessionTimeout = time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	m.rebalanceTimeout = m.sessionTimeout
	if req.Version >= 1 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	m.protocolType = req.ProtocolType
	m.protocols = m.protocols[:0]
	for _, p := range req.Protocols {
		m.protocols = append(m.protocols, protocol{p.Name, slices.Clone(p.Metadata)})
	}
}

type topicPartition struct {
	topic     string
	partition int32
}

type committedOffset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	committed   time.Time
	logEnd      int64 // log offset after the record that set it: newer wins
}

type group struct {
	id           string
	state        State
	stateTime    time.Time
	protocolType string
	protocol     string // the generation's protocol
	generation   int32
	leader       string

	members map[string]*member
	static  map[string]string    // instance id -> member id
	pending map[string]time.Time // ids handed out with MEMBER_ID_REQUIRED -> expiry
	joinSeq uint64

	rebalanceDeadline time.Time
	initialDelay      bool      // the rebalance deadline is the initial delay
	initialDelayCap   time.Time // the initial delay never runs past this
	syncDeadline      time.Time

	offsets map[topicPartition]committedOffset
	// committing counts offset commits appended but not yet applied (their
	// fsync is running): expiry must not drop the group under them, or an
	// acknowledged commit would be lost from memory while its record stays
	// in the log.
	committing int
	persisted  bool // group metadata has been written at least once

	// consumer is the KIP-848 state of a "consumer" type group; nil for
	// classic groups (consumer848.go).
	consumer *consumerGroup
}

func newGroup(id string, now time.Time) *group {
	return &group{
		id:        id,
		stateTime: now,
		members:   map[string]*member{},
		static:    map[string]string{},
		pending:   map[string]time.Time{},
		offsets:   map[topicPartition]committedOffset{},
	}
}

func (g *group) setState(s State, now time.Time) {
	g.state = s
	g.stateTime = now
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

// candidateProtocols lists the protocols every member supports, in the
// preference order of the first member to have joined.
func (g *group) candidateProtocols() []string {
	var first *member
	for _, m := range g.members {
		if first == nil || m.joinSeq < first.joinSeq {
			first = m
		}
	}
	if first == nil {
		return nil
	}
	var out []string
	for _, p := range first.protocols {
		all := true
		for _, m := range g.members {
			if !m.hasProtocol(p.name) {
				all = false
				break
			}
		}
		if all {
			out = append(out, p.name)
		}
	}
	return out
}

func (m *member) hasProtocol(name string) bool {
	for _, p := range m.protocols {
		if p.name == name {
			return true
		}
	}
	return false
}

// supports reports whether a joining member fits the group (Kafka's
// INCONSISTENT_GROUP_PROTOCOL check).
func (g *group) supports(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(ps) == 0 {
		return false
	}
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	cands := g.candidateProtocols()
	for _, p := range ps {
		if slices.Contains(cands, p.Name) {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol with the most first-choice votes among
// those every member supports; ties go to the earlier candidate.
func (g *group) selectProtocol() string {
	cands := g.candidateProtocols()
	if len(cands) == 0 {
		return ""
	}
	votes := make([]int, len(cands))
	for _, m := range g.members {
		for _, p := range m.protocols {
			if i := slices.Index(cands, p.name); i >= 0 {
				votes[i]++
				break
			}
		}
	}
	best := 0
	for i := range cands {
		if votes[i] > votes[best] {
			best = i
		}
	}
	return cands[best]
}

// sortedMembers returns members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *member) int {
		switch {
		case a.joinSeq < b.joinSeq:
			return -1
		case a.joinSeq > b.joinSeq:
			return 1
		}
		return 0
	})
	return out
}

// joinResponse is the answer to a member's join for the current
// generation; the leader gets every member's metadata.
func (g *group) joinResponse(m *member, version int16) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	pt, proto := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &proto
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			rm.InstanceID = o.instanceID
			rm.ProtocolMetadata = o.metadataFor(g.protocol)
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp
}

func (g *group) syncResponse(m *member, version int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = version
	pt, proto := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &proto
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}
