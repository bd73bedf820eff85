package group

// KIP-848 consumer groups ("consumer" type, the next-generation protocol):
// ConsumerGroupHeartbeat and ConsumerGroupDescribe, with server-side
// assignment. See doc.go ("# Consumer groups (KIP-848)") for the model.
//
// Every function here REQUIRES: c.mu held, unless its name says otherwise
// (the exported entry points take it).

import (
	"crypto/rand"
	"encoding/base64"
	"hash/fnv"
	"iter"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerConfig holds the broker settings of KIP-848 consumer groups.
type ConsumerConfig struct {
	// SessionTimeout removes a member that has not heartbeated for this
	// long (group.consumer.session.timeout.ms).
	SessionTimeout time.Duration
	// HeartbeatInterval is the interval members are told to heartbeat at
	// (group.consumer.heartbeat.interval.ms).
	HeartbeatInterval time.Duration
	// MaxSize bounds the members of one group (group.consumer.max.size);
	// 0 means no limit.
	MaxSize int
}

// DefaultConsumerConfig returns Kafka's defaults.
func DefaultConsumerConfig() ConsumerConfig {
	return ConsumerConfig{SessionTimeout: 45 * time.Second, HeartbeatInterval: 5 * time.Second}
}

// TopicInfo is what the assignors need to know of a topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// Server-side assignors (ServerAssignor); the first is the default.
const (
	assignorUniform = "uniform"
	assignorRange   = "range"
)

var consumerAssignors = []string{assignorUniform, assignorRange}

// Consumer group states, as ConsumerGroupDescribe and ListGroups report
// them. Assigning is never reported: targets are computed synchronously.
const (
	cgEmpty       = "Empty"
	cgReconciling = "Reconciling"
	cgStable      = "Stable"
)

// Epochs with a meaning in ConsumerGroupHeartbeat.
const (
	epochJoin        = 0
	epochLeave       = -1
	epochStaticLeave = -2
)

// tpID is a partition by topic id: a topic deleted and created again under
// the same name is another topic.
type tpID struct {
	id [16]byte
	p  int32
}

func tpLess(a, b tpID) int {
	if c := slices.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	return int(a.p) - int(b.p)
}

// consumerGroup is the KIP-848 state of a group (group.consumer != nil).
type consumerGroup struct {
	epoch           int32 // group epoch: bumped by every change of members, subscriptions or their topics
	assignmentEpoch int32 // the epoch the target assignment was computed at
	assignor        string
	dirty           bool   // membership or subscriptions changed: recompute the target
	metaHash        uint64 // fingerprint of the subscribed topics at the last target
	topicsVersion   uint64 // Options.TopicsVersion when the hash was last computed
	members         map[string]*cmember
	static          map[string]string // instance id -> member id
	owners          map[tpID]string   // partition -> member that owns it (assigned or revoking)
	names           map[[16]byte]string
	ids             map[string][16]byte
}

// cmember is one member of a consumer group.
type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	epoch            int32 // member epoch
	prevEpoch        int32
	rebalanceTimeout time.Duration
	topics           []string // subscribed names, sorted
	regex            *string
	re               *regexp.Regexp
	assignor         string // asked for; "" = no preference

	// assigned are the partitions the member owns and may consume, with the
	// member epoch each was given at; revoking are partitions it still owns
	// but has been told to release; target is what the assignor wants it
	// to have. Ownership (assigned ∪ revoking) is disjoint across members:
	// cg.owners records it.
	assigned map[tpID]int32
	revoking map[tpID]int32
	target   map[tpID]bool

	expires        time.Time // session deadline
	revokeDeadline time.Time // while revoking: fenced after this
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members: map[string]*cmember{},
		static:  map[string]string{},
		owners:  map[tpID]string{},
		names:   map[[16]byte]string{},
		ids:     map[string][16]byte{},
	}
}

// hasConsumerMembers reports whether g is a consumer group with members;
// the classic code treats such a group as in use.
func (g *group) hasConsumerMembers() bool {
	return g.consumer != nil && len(g.consumer.members) > 0
}

func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return cgEmpty
	}
	for _, m := range cg.members {
		if !m.reconciled(cg.assignmentEpoch) {
			return cgReconciling
		}
	}
	return cgStable
}

// reconciled: the member has its whole target at the target's epoch.
func (m *cmember) reconciled(assignmentEpoch int32) bool {
	return m.epoch == assignmentEpoch && len(m.revoking) == 0 && len(m.assigned) == len(m.target)
}

// newConsumerMemberID is what v0 members get (v1 members bring their own):
// a random UUID in URL-safe base64, as Kafka makes them.
func newConsumerMemberID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func badRequest(resp *kmsg.ConsumerGroupHeartbeatResponse, err *kerr.Error, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp.ErrorCode = err.Code
	if msg != "" {
		resp.ErrorMessage = &msg
	}
	return resp
}

// validateHeartbeat applies Kafka's request checks.
func validateHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest) (*kerr.Error, string) {
	switch {
	case req.Group == "":
		return kerr.InvalidRequest, "GroupId can't be empty."
	case req.InstanceID != nil && *req.InstanceID == "":
		return kerr.InvalidRequest, "InstanceId can't be empty."
	case req.RackID != nil && *req.RackID == "":
		return kerr.InvalidRequest, "RackId can't be empty."
	case req.MemberEpoch < epochStaticLeave:
		return kerr.InvalidRequest, "MemberEpoch is invalid."
	case req.MemberEpoch == epochStaticLeave && req.InstanceID == nil:
		return kerr.InvalidRequest, "InstanceId can't be null for a static leave."
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch != epochJoin):
		return kerr.InvalidRequest, "MemberId can't be empty."
	}
	if req.MemberEpoch == epochJoin {
		switch {
		case req.RebalanceTimeoutMillis < 0:
			return kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request."
		case req.Topics == nil || len(req.Topics) > 0:
			return kerr.InvalidRequest, "TopicPartitions must be empty when (re-)joining."
		case req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
			return kerr.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
		}
	}
	if req.ServerAssignor != nil && !slices.Contains(consumerAssignors, *req.ServerAssignor) {
		return kerr.UnsupportedAssignor, "ServerAssignor " + *req.ServerAssignor + " is not supported; supported: " + strings.Join(consumerAssignors, ", ")
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := compileSubscription(*req.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression, err.Error()
		}
	}
	return nil, ""
}

// compileSubscription compiles a subscription regex (RE2) to match whole
// topic names, as Kafka's RE2/J matches() does.
func compileSubscription(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

// ConsumerHeartbeat handles ConsumerGroupHeartbeat v0-1. topics lists the
// broker's topics; it is called at most once.
func (c *Coordinator) ConsumerHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.HeartbeatIntervalMillis = int32(c.cfg.Consumer.HeartbeatInterval / time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return badRequest(resp, kerr.NotCoordinator, "")
	}
	if err, msg := validateHeartbeat(req); err != nil {
		return badRequest(resp, err, msg)
	}
	now := c.now()
	g := c.groups[req.Group]
	if g == nil {
		if req.MemberEpoch != epochJoin {
			// Gone (a broker restart forgets members): rejoin.
			return badRequest(resp, kerr.UnknownMemberID, "")
		}
		g = newGroup(req.Group, now)
		c.groups[req.Group] = g
	}
	if g.consumer == nil {
		if g.state != Empty || len(g.members) > 0 || len(g.pending) > 0 {
			return badRequest(resp, kerr.GroupIDNotFound, "Group "+g.id+" is not a consumer group.")
		}
		if req.MemberEpoch != epochJoin {
			return badRequest(resp, kerr.UnknownMemberID, "")
		}
		// An empty classic group (or one holding only offsets) becomes a
		// consumer group; its offsets stay.
		g.consumer = newConsumerGroup()
		g.protocolType = "consumer"
		g.protocol, g.leader = "", ""
	}
	cg := g.consumer

	if req.MemberEpoch == epochLeave || req.MemberEpoch == epochStaticLeave {
		return c.consumerLeaveLocked(g, req, resp, now)
	}

	var m *cmember
	if req.MemberEpoch == epochJoin {
		var err *kerr.Error
		if m, err = c.consumerJoinLocked(g, req, clientID, clientHost); err != nil {
			return badRequest(resp, err, "")
		}
	} else {
		m = cg.members[req.MemberID]
		if m == nil {
			return badRequest(resp, kerr.UnknownMemberID, "")
		}
		if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
			return badRequest(resp, kerr.FencedInstanceID, "")
		}
		if err := m.checkEpoch(req); err != nil {
			return badRequest(resp, err, "")
		}
	}
	m.clientID, m.clientHost = clientID, clientHost
	m.expires = now.Add(c.cfg.Consumer.SessionTimeout)
	if m.updateSubscription(req) {
		cg.dirty = true
	}
	c.refreshTargetLocked(g, nil)

	var owned map[tpID]bool
	if req.Topics != nil {
		owned = map[tpID]bool{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				owned[tpID{t.TopicID, p}] = true
			}
		}
	}
	changed := cg.reconcile(m, owned, now)
	if changed {
		c.logger.Debug("consumer group member reconciled", "group", g.id, "member", m.id, "epoch", m.epoch,
			"assigned", len(m.assigned), "revoking", len(m.revoking), "target", len(m.target))
	}
	id := m.id
	resp.MemberID = &id
	resp.MemberEpoch = m.epoch
	if changed || req.Topics != nil || req.MemberEpoch == epochJoin {
		resp.Assignment = m.assignmentResponse()
	}
	return resp
}

// checkEpoch is Kafka's member epoch check: a member one epoch behind is
// accepted if it owns no more than it is assigned (the response carrying
// its new epoch was lost).
func (m *cmember) checkEpoch(req *kmsg.ConsumerGroupHeartbeatRequest) *kerr.Error {
	switch {
	case req.MemberEpoch > m.epoch:
		return kerr.FencedMemberEpoch
	case req.MemberEpoch < m.epoch:
		if req.MemberEpoch != m.prevEpoch || req.Topics == nil {
			return kerr.FencedMemberEpoch
		}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if _, ok := m.assigned[tpID{t.TopicID, p}]; !ok {
					return kerr.FencedMemberEpoch
				}
			}
		}
	}
	return nil
}

// consumerJoinLocked finds or makes the member of an epoch-0 heartbeat.
func (c *Coordinator) consumerJoinLocked(g *group, req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) (*cmember, *kerr.Error) {
	cg := g.consumer
	id := req.MemberID
	if id == "" {
		id = newConsumerMemberID()
	}
	if req.InstanceID != nil {
		if oldID, ok := cg.static[*req.InstanceID]; ok && oldID != id {
			old := cg.members[oldID]
			if old.epoch != epochStaticLeave {
				return nil, kerr.UnreleasedInstanceID
			}
			if _, taken := cg.members[id]; taken {
				return nil, kerr.FencedInstanceID
			}
			// A restarted static member takes its predecessor's place:
			// same epoch, same assignment, no rebalance.
			delete(cg.members, oldID)
			old.id = id
			old.epoch = old.prevEpoch
			cg.members[id] = old
			cg.static[*req.InstanceID] = id
			for tp, o := range cg.owners {
				if o == oldID {
					cg.owners[tp] = id
				}
			}
			c.logger.Info("consumer group static member replaced", "group", g.id, "instance", *req.InstanceID, "old_member", oldID, "member", id)
			return old, nil
		}
	}
	if m, ok := cg.members[id]; ok {
		if req.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *req.InstanceID) {
			return nil, kerr.FencedInstanceID
		}
		if m.epoch == epochStaticLeave {
			m.epoch = m.prevEpoch
		}
		// A rejoin at epoch 0 of a member we know (it lost a response or
		// was fenced and gave up its partitions): it gets its current
		// assignment again.
		return m, nil
	}
	if max := c.cfg.Consumer.MaxSize; max > 0 && len(cg.members) >= max {
		return nil, kerr.GroupMaxSizeReached
	}
	m := &cmember{
		id:         id,
		instanceID: req.InstanceID,
		clientID:   clientID,
		clientHost: clientHost,
		assigned:   map[tpID]int32{},
		target:     map[tpID]bool{},
	}
	cg.members[id] = m
	if m.instanceID != nil {
		cg.static[*m.instanceID] = id
	}
	cg.dirty = true
	c.logger.Info("consumer group member joined", "group", g.id, "member", id, "client", clientID)
	return m, nil
}

// updateSubscription applies the optional fields of a heartbeat and says
// whether the assignment inputs changed.
func (m *cmember) updateSubscription(req *kmsg.ConsumerGroupHeartbeatRequest) bool {
	changed := false
	if req.RebalanceTimeoutMillis >= 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.SubscribedTopicNames != nil {
		ts := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(ts)
		ts = slices.Compact(ts)
		if !slices.Equal(ts, m.topics) {
			m.topics, changed = ts, true
		}
	}
	if req.SubscribedTopicRegex != nil {
		re := *req.SubscribedTopicRegex
		if re == "" {
			if m.regex != nil {
				m.regex, m.re, changed = nil, nil, true
			}
		} else if m.regex == nil || *m.regex != re {
			m.regex, changed = &re, true
			m.re, _ = compileSubscription(re) // validated
		}
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, changed = *req.ServerAssignor, true
	}
	return changed
}

// subscribes reports whether the member subscribes to t by name or regex.
// A regex is matched against every topic, internal ones included, as
// Kafka 4 resolves it (its only filter is DESCRIBE ACLs, which Ferry does
// not have): a member whose regex names __consumer_offsets is assigned it.
func (m *cmember) subscribes(t TopicInfo) bool {
	if _, ok := slices.BinarySearch(m.topics, t.Name); ok {
		return true
	}
	return m.re != nil && m.re.MatchString(t.Name)
}

// consumerLeaveLocked handles epochs -1 (leave) and -2 (static member
// leaving for a while: it keeps its assignment until its session expires
// or its instance rejoins).
func (c *Coordinator) consumerLeaveLocked(g *group, req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse, now time.Time) *kmsg.ConsumerGroupHeartbeatResponse {
	cg := g.consumer
	id := req.MemberID
	if req.InstanceID != nil {
		known, ok := cg.static[*req.InstanceID]
		if !ok {
			return badRequest(resp, kerr.UnknownMemberID, "")
		}
		if known != id {
			return badRequest(resp, kerr.FencedInstanceID, "")
		}
	}
	m := cg.members[id]
	if m == nil {
		return badRequest(resp, kerr.UnknownMemberID, "")
	}
	resp.MemberID = &id
	resp.MemberEpoch = req.MemberEpoch
	if req.MemberEpoch == epochStaticLeave {
		if m.epoch != epochStaticLeave {
			m.prevEpoch, m.epoch = m.epoch, epochStaticLeave
		}
		c.logger.Info("consumer group static member left for now", "group", g.id, "member", id, "instance", *req.InstanceID)
		return resp
	}
	c.logger.Info("consumer group member left", "group", g.id, "member", id)
	c.removeConsumerMemberLocked(g, m, now)
	return resp
}

// removeConsumerMemberLocked drops a member and frees what it owned.
func (c *Coordinator) removeConsumerMemberLocked(g *group, m *cmember, now time.Time) {
	cg := g.consumer
	for tp := range m.assigned {
		delete(cg.owners, tp)
	}
	for tp := range m.revoking {
		delete(cg.owners, tp)
	}
	delete(cg.members, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	cg.dirty = true
	c.refreshTargetLocked(g, nil)
	if len(cg.members) == 0 {
		// Offsets expire counting from now; the record keeps the group's
		// type and empty state across a restart.
		g.setState(Empty, now)
		c.writeGroupLocked(g)
		c.logger.Info("consumer group is empty", "group", g.id, "epoch", cg.epoch)
	}
}

// tickConsumerLocked removes members whose session expired and members
// that did not release revoked partitions within their rebalance timeout.
func (c *Coordinator) tickConsumerLocked(g *group, now time.Time) {
	cg := g.consumer
	if cg == nil {
		return
	}
	for _, m := range cg.members {
		switch {
		case !now.Before(m.expires):
			c.logger.Info("consumer group member removed: session timed out", "group", g.id, "member", m.id, "session_timeout", c.cfg.Consumer.SessionTimeout)
		case len(m.revoking) > 0 && m.rebalanceTimeout > 0 && !now.Before(m.revokeDeadline):
			c.logger.Info("consumer group member removed: partitions not revoked within the rebalance timeout", "group", g.id, "member", m.id, "rebalance_timeout", m.rebalanceTimeout)
		default:
			continue
		}
		c.removeConsumerMemberLocked(g, m, now)
	}
}

// refreshTargetLocked recomputes the target assignment if membership or
// subscriptions changed, or if the subscribed topics changed (created,
// deleted, grown); each recomputation is a new group epoch. topics may be
// nil: the coordinator's topic source is asked.
func (c *Coordinator) refreshTargetLocked(g *group, topics []TopicInfo) {
	cg := g.consumer
	if len(cg.members) == 0 {
		cg.dirty = false
		return
	}
	if topics == nil && c.topicsVersion != nil {
		// Nothing the target depends on changed: skip the walk over
		// every topic, so a heartbeat costs O(its group).
		v := c.topicsVersion()
		if !cg.dirty && v == cg.topicsVersion {
			return
		}
		cg.topicsVersion = v
	}
	if topics == nil && c.topics != nil {
		topics = c.topics()
	}
	subscribed := map[string][]TopicInfo{} // member -> topics
	h := fnv.New64a()
	var buf []byte
	seen := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(cg.members)) {
		m := cg.members[id]
		for _, t := range topics {
			if !m.subscribes(t) || t.Partitions <= 0 {
				continue
			}
			subscribed[id] = append(subscribed[id], t)
			if !seen[t.Name] {
				seen[t.Name] = true
				buf = append(buf[:0], t.Name...)
				buf = append(buf, t.ID[:]...)
				buf = append(buf, byte(t.Partitions>>24), byte(t.Partitions>>16), byte(t.Partitions>>8), byte(t.Partitions))
				h.Write(buf)
			}
		}
	}
	sum := h.Sum64()
	if !cg.dirty && sum == cg.metaHash {
		return
	}
	cg.dirty, cg.metaHash = false, sum
	cg.epoch++
	cg.assignor = cg.pickAssignor()
	for _, ts := range subscribed {
		for _, t := range ts {
			cg.names[t.ID] = t.Name
			cg.ids[t.Name] = t.ID
		}
	}
	var target map[string]map[tpID]bool
	if cg.assignor == assignorRange {
		target = assignRange(cg.members, subscribed)
	} else {
		target = assignUniform(cg.members, subscribed)
	}
	for id, m := range cg.members {
		m.target = target[id]
		if m.target == nil {
			m.target = map[tpID]bool{}
		}
	}
	cg.assignmentEpoch = cg.epoch
	c.logger.Info("consumer group target assignment", "group", g.id, "epoch", cg.epoch, "assignor", cg.assignor, "members", len(cg.members))
}

// pickAssignor is the assignor most members ask for (ties: the earlier in
// consumerAssignors), uniform if none asks.
func (cg *consumerGroup) pickAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best := consumerAssignors[0]
	for _, a := range consumerAssignors {
		if votes[a] > votes[best] {
			best = a
		}
	}
	return best
}

// reconcile moves a member towards its target (KIP-848's current
// assignment builder, simplified). owned is what the member reported
// owning (nil: not reported). It says whether the member's epoch or
// assignment changed.
//
// The rule that keeps ownership exclusive: a partition is given to a
// member only when no other member owns it (cg.owners); a partition taken
// from a member stays owned by it (revoking) until a heartbeat from it no
// longer lists it, or it is removed from the group.
func (cg *consumerGroup) reconcile(m *cmember, owned map[tpID]bool, now time.Time) bool {
	if m.epoch == epochStaticLeave {
		return false
	}
	changed := false
	if len(m.revoking) > 0 && owned != nil {
		released := true
		for tp := range m.revoking {
			if owned[tp] {
				released = false
				break
			}
		}
		if released {
			for tp := range m.revoking {
				if cg.owners[tp] == m.id {
					delete(cg.owners, tp)
				}
			}
			m.revoking = nil
			changed = true
		}
	}
	if len(m.revoking) > 0 || m.reconciled(cg.assignmentEpoch) {
		return changed
	}
	// First take away what the target no longer has; the member keeps its
	// epoch until it has let go.
	for tp, e := range m.assigned {
		if !m.target[tp] {
			if m.revoking == nil {
				m.revoking = map[tpID]int32{}
			}
			m.revoking[tp] = e
			delete(m.assigned, tp)
		}
	}
	if len(m.revoking) > 0 {
		m.revokeDeadline = now.Add(m.rebalanceTimeout)
		return true
	}
	// Then move to the target's epoch with whatever of the target is free;
	// the rest follows on later heartbeats, as its owners release it.
	if m.epoch != cg.assignmentEpoch {
		m.prevEpoch, m.epoch = m.epoch, cg.assignmentEpoch
		changed = true
	}
	for tp := range m.target {
		if _, ok := m.assigned[tp]; ok {
			continue
		}
		if _, taken := cg.owners[tp]; taken {
			continue
		}
		cg.owners[tp] = m.id
		m.assigned[tp] = m.epoch
		changed = true
	}
	return changed
}

func groupByTopic(ps map[tpID]int32) ([][16]byte, map[[16]byte][]int32) {
	by := map[[16]byte][]int32{}
	for tp := range ps {
		by[tp.id] = append(by[tp.id], tp.p)
	}
	ids := slices.SortedFunc(maps.Keys(by), func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	for _, id := range ids {
		slices.Sort(by[id])
	}
	return ids, by
}

func (m *cmember) assignmentResponse() *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := new(kmsg.ConsumerGroupHeartbeatResponseAssignment)
	a.Default()
	a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	ids, by := groupByTopic(m.assigned)
	for _, id := range ids {
		t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
		t.TopicID, t.Partitions = id, by[id]
		a.Topics = append(a.Topics, t)
	}
	return a
}

// owns returns the partitions a member owns: assigned and revoking.
func (m *cmember) owns() map[tpID]int32 {
	out := maps.Clone(m.assigned)
	maps.Copy(out, m.revoking)
	return out
}

// ---- offsets ----

// consumerCommitTargetLocked applies the KIP-848 checks to an OffsetCommit
// for a consumer group (see checkCommitter).
func (c *Coordinator) consumerCommitTargetLocked(g *group, req *kmsg.OffsetCommitRequest) (*group, *kerr.Error) {
	cg := g.consumer
	if req.Version == 0 || (req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil) {
		if len(cg.members) > 0 {
			return nil, kerr.UnknownMemberID
		}
		return g, nil
	}
	parts := func(yield func(string, int32) bool) {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				if !yield(t.Topic, p.Partition) {
					return
				}
			}
		}
	}
	if err := cg.checkCommitter(req.MemberID, req.InstanceID, req.Generation, parts); err != nil {
		return nil, err
	}
	return g, nil
}

// checkCommitter applies the KIP-848 member checks shared by OffsetCommit
// and TxnOffsetCommit: the generation is the member epoch. A commit at an
// older epoch is accepted when every partition in it is still owned by the
// member and was given to it at or before that epoch (KIP-1251), so a
// commit racing an epoch bump that did not touch its partitions succeeds;
// otherwise it is STALE_MEMBER_EPOCH. A newer epoch is FENCED_MEMBER_EPOCH.
func (cg *consumerGroup) checkCommitter(memberID string, instanceID *string, epoch int32, parts iter.Seq2[string, int32]) *kerr.Error {
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if instanceID != nil && (m.instanceID == nil || *m.instanceID != *instanceID) {
		return kerr.FencedInstanceID
	}
	switch {
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch
	case epoch < m.epoch:
		owns := m.owns()
		for topic, p := range parts {
			id, ok := cg.ids[topic]
			if !ok {
				return kerr.StaleMemberEpoch
			}
			if e, ok := owns[tpID{id, p}]; !ok || e > epoch {
				return kerr.StaleMemberEpoch
			}
		}
	}
	return nil
}

// consumerSubscribedLocked lists the topics a consumer group's members
// subscribe to, for OffsetDelete.
func (c *Coordinator) consumerSubscribedLocked(g *group) map[string]bool {
	out := map[string]bool{}
	var topics []TopicInfo
	if c.topics != nil {
		topics = c.topics()
	}
	for _, m := range g.consumer.members {
		for _, t := range m.topics {
			out[t] = true
		}
		for _, t := range topics {
			if m.subscribes(t) {
				out[t.Name] = true
			}
		}
	}
	return out
}
