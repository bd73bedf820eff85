package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitOffsets handles OffsetCommit in two phases, like Produce: the
// checks and the append run now, in request order; the returned function
// waits for the fsync, makes the offsets visible and returns the response.
func (c *Coordinator) CommitOffsets(req *kmsg.OffsetCommitRequest) func() *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	type written struct {
		tp topicPartition
		o  committedOffset
		ep *kmsg.OffsetCommitResponseTopicPartition
	}
	var toApply []written

	c.mu.Lock()
	now := c.now()
	g, groupErr := c.commitTargetLocked(req, now)
	var recs []kv
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	for ti, rt := range req.Topics {
		for pi, rp := range rt.Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			switch {
			case groupErr != nil:
				sp.ErrorCode = groupErr.Code
				continue
			case !c.exists(rt.Topic, rp.Partition):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			case rp.Metadata != nil && len(*rp.Metadata) > c.cfg.MaxMetadataBytes:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := committedOffset{offset: rp.Offset, leaderEpoch: -1, committed: now}
			if req.Version >= 6 {
				o.leaderEpoch = rp.LeaderEpoch
			}
			if rp.Metadata != nil {
				o.metadata = *rp.Metadata
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			recs = append(recs, offsetRecord(req.Group, tp, o))
			toApply = append(toApply, written{tp, o, sp})
		}
	}
	next, err := c.appendLocked(recs)
	if err == nil && next > 0 {
		g.committing++
	}
	c.mu.Unlock()

	fail := func(code int16) {
		for _, w := range toApply {
			w.ep.ErrorCode = code
		}
	}
	if err != nil {
		c.logger.Error("offset commit: write failed", "group", req.Group, "err", err)
		fail(kerr.CoordinatorNotAvailable.Code)
		return func() *kmsg.OffsetCommitResponse { return resp }
	}
	return func() *kmsg.OffsetCommitResponse {
		if next == 0 {
			return resp
		}
		serr := c.log.Sync(next)
		c.mu.Lock()
		defer c.mu.Unlock()
		g.committing--
		if serr != nil {
			c.logger.Error("offset commit: sync failed", "group", req.Group, "err", serr)
			fail(kerr.CoordinatorNotAvailable.Code)
			return resp
		}
		if c.groups[req.Group] != g {
			return resp // deleted meanwhile; its tombstones came after us
		}
		for _, w := range toApply {
			w.o.logEnd = next
			if cur, ok := g.offsets[w.tp]; !ok || cur.logEnd < next {
				g.offsets[w.tp] = w.o
			}
		}
		return resp
	}
}

// commitTargetLocked applies Kafka's membership checks to a commit and
// returns the group, creating it for a commit from outside any group
// (generation -1, no member id).
// REQUIRES: c.mu held.
func (c *Coordinator) commitTargetLocked(req *kmsg.OffsetCommitRequest, now time.Time) (*group, *kerr.Error) {
	if c.closed {
		return nil, kerr.NotCoordinator
	}
	if req.Group == "" {
		return nil, kerr.InvalidGroupID
	}
	g := c.groups[req.Group]
	if g != nil && g.consumer != nil {
		return c.consumerCommitTargetLocked(g, req) // KIP-848 group
	}
	if req.Version == 0 || (req.Generation < 0 && req.MemberID == "" && req.InstanceID == nil) {
		// A commit by a client that manages its own partitions.
		if g == nil {
			g = newGroup(req.Group, now)
			c.groups[req.Group] = g
			return g, nil
		}
		if g.state != Empty {
			return nil, kerr.UnknownMemberID
		}
		return g, nil
	}
	g, _, err := c.memberLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return nil, err
	}
	if g.state == CompletingRebalance {
		return nil, kerr.RebalanceInProgress
	}
	return g, nil
}

// FetchOffsets handles OffsetFetch: one group before v8, many from v8. A
// null topic list (v2+) asks for every committed offset of the group.
func (c *Coordinator) FetchOffsets(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			if c.closed {
				sg.ErrorCode = kerr.NotCoordinator.Code
				resp.Groups = append(resp.Groups, sg)
				continue
			}
			var asked map[string][]int32
			if rg.Topics != nil {
				asked = map[string][]int32{}
				for _, t := range rg.Topics {
					asked[t.Topic] = append(asked[t.Topic], t.Partitions...)
				}
			}
			unstable := c.unstableLocked(req.RequireStable, rg.Group)
			for topic, parts := range c.offsetsLocked(rg.Group, asked, rg.Topics == nil) {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = topic
				for _, p := range parts {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata
					if unstable[topic][p.Partition] {
						sp.ErrorCode, sp.Offset = kerr.UnstableOffsetCommit.Code, -1
					}
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	}
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	var asked map[string][]int32
	all := req.Topics == nil && req.Version >= 2
	if !all {
		asked = map[string][]int32{}
		for _, t := range req.Topics {
			asked[t.Topic] = append(asked[t.Topic], t.Partitions...)
		}
	}
	unstable := c.unstableLocked(req.RequireStable, req.Group)
	for topic, parts := range c.offsetsLocked(req.Group, asked, all) {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = topic
		for i := range parts {
			if p := &parts[i]; unstable[topic][p.Partition] {
				p.ErrorCode, p.Offset = kerr.UnstableOffsetCommit.Code, -1
			}
		}
		st.Partitions = parts
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// unstableLocked returns, for an OffsetFetch with require_stable, the
// group's partitions with offsets pending in an open transaction.
// REQUIRES: c.mu held.
func (c *Coordinator) unstableLocked(requireStable bool, groupID string) map[string]map[int32]bool {
	if !requireStable {
		return nil
	}
	return c.pendingOffsetsLocked(groupID)
}

// offsetsLocked returns committed offsets by topic: every one with all, or
// those asked for (-1 where nothing is committed).
// REQUIRES: c.mu held.
func (c *Coordinator) offsetsLocked(groupID string, asked map[string][]int32, all bool) map[string][]kmsg.OffsetFetchResponseTopicPartition {
	out := map[string][]kmsg.OffsetFetchResponseTopicPartition{}
	g := c.groups[groupID]
	entry := func(p int32, o committedOffset, ok bool) kmsg.OffsetFetchResponseTopicPartition {
		sp := kmsg.NewOffsetFetchResponseTopicPartition()
		sp.Partition = p
		md := ""
		sp.Metadata = &md
		sp.Offset, sp.LeaderEpoch = -1, -1
		if ok {
			sp.Offset, sp.LeaderEpoch = o.offset, o.leaderEpoch
			md = o.metadata
		}
		return sp
	}
	if all {
		if g == nil {
			return out
		}
		for tp, o := range g.offsets {
			out[tp.topic] = append(out[tp.topic], entry(tp.partition, o, true))
		}
		return out
	}
	for topic, parts := range asked {
		list := out[topic]
		if list == nil {
			list = []kmsg.OffsetFetchResponseTopicPartition{}
		}
		for _, p := range parts {
			var o committedOffset
			ok := false
			if g != nil {
				o, ok = g.offsets[topicPartition{topic, p}]
			}
			list = append(list, entry(p, o, ok))
		}
		out[topic] = list
	}
	return out
}

// DeleteOffsets handles OffsetDelete: offsets of topics the group's
// members are subscribed to stay (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *Coordinator) DeleteOffsets(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	g, ok := c.groups[req.Group]
	if !ok {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}
	var subscribed map[string]bool
	if g.hasConsumerMembers() {
		subscribed = c.consumerSubscribedLocked(g)
	} else if len(g.members) > 0 {
		if g.protocolType != "consumer" {
			resp.ErrorCode = kerr.NonEmptyGroup.Code
			return resp
		}
		subscribed = g.subscribedTopics()
	}
	var recs []kv
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			tp := topicPartition{rt.Topic, rp.Partition}
			switch {
			case subscribed[rt.Topic]:
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case !c.exists(rt.Topic, rp.Partition):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				if _, ok := g.offsets[tp]; ok {
					delete(g.offsets, tp)
					recs = append(recs, kv{Key: offsetKey(g.id, tp)})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	c.writeLazyLocked(g, recs)
	return resp
}

// subscribedTopics reads the members' subscriptions from their consumer
// protocol metadata.
func (g *group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			continue
		}
		for _, t := range md.Topics {
			out[t] = true
		}
	}
	return out
}

// expireOffsetsLocked drops the offsets of groups that have been empty
// longer than the retention (or, for groups that never had members, of
// offsets committed longer ago), and drops groups left with nothing.
// REQUIRES: c.mu held.
func (c *Coordinator) expireOffsetsLocked(now time.Time) {
	for id, g := range c.groups {
		if g.state != Empty || len(g.members) > 0 || len(g.pending) > 0 || g.committing > 0 || g.hasConsumerMembers() {
			continue
		}
		var recs []kv
		for tp, o := range g.offsets {
			base := o.committed
			if g.protocolType != "" {
				base = g.stateTime
			}
			if now.Sub(base) >= c.cfg.OffsetsRetention {
				delete(g.offsets, tp)
				recs = append(recs, kv{Key: offsetKey(id, tp)})
			}
		}
		if len(recs) > 0 {
			c.logger.Info("expired committed offsets", "group", id, "partitions", len(recs))
		}
		if len(g.offsets) == 0 {
			if g.persisted || len(recs) > 0 {
				recs = append(recs, kv{Key: groupKey(id)})
			}
			delete(c.groups, id)
		}
		c.writeLazyLocked(g, recs)
	}
}
