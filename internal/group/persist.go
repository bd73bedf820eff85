package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// Record key and value versions written; see doc.go. Readers accept every
// version kmsg decodes.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

// kv is one record of the coordinator's topic; a nil Value is a tombstone.
type kv = log.KeyValue

func offsetKey(groupID string, tp topicPartition) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetKeyVersion
	k.Group, k.Topic, k.Partition = groupID, tp.topic, tp.partition
	return k.AppendTo(nil)
}

func offsetRecord(groupID string, tp topicPartition, o committedOffset) kv {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.committed.UnixMilli()
	return kv{Key: offsetKey(groupID, tp), Value: v.AppendTo(nil)}
}

func groupKey(groupID string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupKeyVersion
	k.Group = groupID
	return k.AppendTo(nil)
}

func groupRecord(g *group) kv {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID, vm.ClientHost = m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return kv{Key: groupKey(g.id), Value: v.AppendTo(nil)}
}

// encodeBatch builds the batch the log assigns a base offset to.
func encodeBatch(recs []kv, now time.Time) []byte { return log.NewBatch(recs, now) }

// appendLocked writes recs as one batch and returns the log offset after
// it. The caller syncs (or leaves the background sync to do it).
// REQUIRES: c.mu held.
func (c *Coordinator) appendLocked(recs []kv) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	next, err := c.log.Append(encodeBatch(recs, c.now()))
	if err != nil {
		return 0, err
	}
	c.nextOffset = next
	return next, nil
}

// writeGroupLocked records the group's metadata; the background sync makes
// it durable.
// REQUIRES: c.mu held.
func (c *Coordinator) writeGroupLocked(g *group) {
	c.writeLazyLocked(g, []kv{groupRecord(g)})
	g.persisted = true
}

// writeLazyLocked appends recs and leaves the fsync to the background.
// REQUIRES: c.mu held.
func (c *Coordinator) writeLazyLocked(g *group, recs []kv) {
	next, err := c.appendLocked(recs)
	if err != nil {
		c.logger.Error("write to __consumer_offsets failed", "group", g.id, "err", err)
		return
	}
	if next > 0 {
		c.unsyncedEnd = next
	}
}

// loadBatchBytes is how much Load reads at a time.
const loadBatchBytes = 1 << 20

// Load replays the log into memory; call it once, before serving.
func (c *Coordinator) Load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	offset, records, err := log.Replay(c.log.Read, loadBatchBytes, func(h log.BatchHeader, key, value []byte) error {
		if h.IsTransactional() {
			return c.replayTxnRecord(h, key, value)
		}
		return c.replay(key, value, h.LastOffset()+1, now)
	}, func(d log.Damage) {
		// The groups whose records were there keep what the rest of
		// the log holds for them: older commits, or nothing.
		c.logger.Error("skipping damaged records of __consumer_offsets; offsets committed there are lost",
			"partition", c.logName, "from", d.From, "to", d.To, "err", d.Err)
	})
	if err != nil {
		return fmt.Errorf("group: load __consumer_offsets at %d: %w", offset, err)
	}
	c.nextOffset = offset
	for id, g := range c.groups {
		if len(g.members) == 0 && len(g.offsets) == 0 && g.generation == 0 {
			delete(c.groups, id)
		}
	}
	c.logger.Info("consumer groups loaded", "groups", len(c.groups), "records", records, "log_end", offset)
	return nil
}

// replay applies one record of __consumer_offsets.
// REQUIRES: c.mu held.
func (c *Coordinator) replay(key, value []byte, logEnd int64, now time.Time) error {
	if len(key) < 2 {
		return errors.New("record key too short")
	}
	r := kbin.Reader{Src: key}
	switch r.Int16() {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return err
		}
		tp := topicPartition{k.Topic, k.Partition}
		g := c.groups[k.Group]
		if value == nil {
			if g != nil {
				delete(g.offsets, tp)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(value); err != nil {
			return err
		}
		if g == nil {
			g = newGroup(k.Group, now)
			c.groups[k.Group] = g
		}
		epoch := int32(-1)
		if v.Version >= 3 {
			epoch = v.LeaderEpoch
		}
		g.offsets[tp] = committedOffset{offset: v.Offset, leaderEpoch: epoch, metadata: v.Metadata, committed: time.UnixMilli(v.CommitTimestamp), logEnd: logEnd}
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return err
		}
		if value == nil {
			delete(c.groups, k.Group)
			return nil
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(value); err != nil {
			return err
		}
		g := c.groups[k.Group]
		if g == nil {
			g = newGroup(k.Group, now)
			c.groups[k.Group] = g
		}
		c.restoreGroup(g, &v, now)
	default:
		// A record kind we do not know (a newer Kafka's): skip it.
	}
	return nil
}

// restoreGroup sets g from its last metadata record. Members get a full
// session timeout from now to heartbeat again.
func (c *Coordinator) restoreGroup(g *group, v *kmsg.GroupMetadataValue, now time.Time) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	g.protocol, g.leader = "", ""
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.persisted = true
	g.members = map[string]*member{}
	g.static = map[string]string{}
	g.stateTime = now
	if v.CurrentStateTimestamp > 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	for _, vm := range v.Members {
		g.joinSeq++
		m := &member{
			id:               vm.MemberID,
			instanceID:       vm.InstanceID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			joinSeq:          g.joinSeq,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{g.protocol, vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		m.expires = now.Add(m.sessionTimeout)
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 && g.protocol != "" {
		g.state = Stable
	} else {
		g.state = Empty
		g.members = map[string]*member{}
		g.static = map[string]string{}
	}
}
