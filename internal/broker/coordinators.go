package broker

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/group"
	"github.com/ferry-mq/ferry/internal/meta"
	"github.com/ferry-mq/ferry/internal/txn"
)

// Coordinators are partitioned as in Kafka: the coordinator of a group
// (a transactional id) is the leader of partition
// abs(javaStringHash(id)) % N of __consumer_offsets (__transaction_state),
// N being the topic's partition count, so Kafka's tools compute the same
// partition. Each internal partition led here has its own coordinator
// (its own mutex, timers and log): a shard. A shard is created when this
// broker becomes the partition's leader, answers
// COORDINATOR_LOAD_IN_PROGRESS while it replays the partition, and is
// closed when the broker loses the leadership (or leads it again under a
// new leader epoch: the log may have changed under another leader);
// requests for its ids then get NOT_COORDINATOR and clients ask
// FindCoordinator again.
//
// Lock order: coordinators.mu, then Broker.mu, then a partition's
// replica lock; shards are closed and loaded outside it. Requests find
// their shard without a lock, in a snapshot published on every change, so
// no lock is shared by all groups.

// commitReplicationTimeout bounds how long a coordinator write waits for
// the ISR of its internal partition (offsets.commit.timeout.ms).
const commitReplicationTimeout = 5 * time.Second

// coordinators holds the shards of both internal topics.
type coordinators struct {
	mu      sync.Mutex
	started bool // the internal topics exist: reconcile may load shards
	groups  map[int32]*groupShard
	txns    map[int32]*txnShard
	closing sync.WaitGroup // shards being closed in the background

	// published are the maps above as of the last change, for lookups.
	published atomic.Pointer[shardSnapshot]
}

// shardSnapshot is an immutable copy of the shard maps.
type shardSnapshot struct {
	groups map[int32]*groupShard
	txns   map[int32]*txnShard
}

// publishLocked makes the current shards visible to lookups.
// REQUIRES: coordinators.mu held.
func (cs *coordinators) publishLocked() {
	cs.published.Store(&shardSnapshot{groups: maps.Clone(cs.groups), txns: maps.Clone(cs.txns)})
}

// snapshot returns the shards as last published.
func (cs *coordinators) snapshot() *shardSnapshot {
	if s := cs.published.Load(); s != nil {
		return s
	}
	return &shardSnapshot{}
}

// shard is the coordinator (group or transaction) of one partition of an
// internal topic led here.
type shard[C any] struct {
	epoch  int32 // leader epoch the shard was loaded under
	c      C
	loaded chan struct{} // closed once Load finished
	failed bool          // Load failed; set before loaded closes
	gone   bool          // unloaded; guarded by coordinators.mu
}

// groupShard is the group coordinator of one __consumer_offsets partition.
type groupShard = shard[*group.Coordinator]

// txnShard is the transaction coordinator of one __transaction_state
// partition.
type txnShard = shard[*txn.Coordinator]

// serving returns the coordinator of a shard found for a request, or the
// error clients retry after FindCoordinator: NOT_COORDINATOR when there is
// no shard or its load failed, COORDINATOR_LOAD_IN_PROGRESS while it loads.
func serving[C any](s *shard[C]) (C, error) {
	var none C
	if s == nil {
		return none, kerr.NotCoordinator
	}
	select {
	case <-s.loaded:
	default:
		return none, kerr.CoordinatorLoadInProgress
	}
	if s.failed {
		return none, kerr.NotCoordinator
	}
	return s.c, nil
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + … over the
// UTF-16 code units of s, in int32 arithmetic.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			// Outside the BMP: a surrogate pair, as Java stores it.
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// CoordinatorPartition returns the internal partition that holds id's
// state among n partitions: Kafka's Utils.abs(id.hashCode()) % n.
func CoordinatorPartition(id string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	h := javaStringHash(id)
	if h == -1<<31 {
		h = 0 // Utils.abs maps MinValue to 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// coordinatorPartitionOf returns the partition of an internal topic that
// holds id, and false when the topic does not exist (yet).
func (b *Broker) coordinatorPartitionOf(topic, id string) (*meta.Topic, int32, bool) {
	t, ok := b.Image().Topic(topic)
	if !ok || t.Partitions <= 0 {
		return nil, 0, false
	}
	return t, CoordinatorPartition(id, t.Partitions), true
}

// GroupCoordinatorFor returns the coordinator of a group when this broker
// runs it. Otherwise the error is kerr.NotCoordinator (another broker, or
// none, leads the group's partition of __consumer_offsets) or
// kerr.CoordinatorLoadInProgress (this broker is loading it); clients
// retry both after FindCoordinator.
func (b *Broker) GroupCoordinatorFor(groupID string) (*group.Coordinator, error) {
	_, part, ok := b.coordinatorPartitionOf(ConsumerOffsetsTopic, groupID)
	if !ok {
		return nil, kerr.NotCoordinator
	}
	return serving(b.coords.snapshot().groups[part])
}

// TxnCoordinatorFor returns the transaction coordinator of a
// transactional id, with GroupCoordinatorFor's errors.
func (b *Broker) TxnCoordinatorFor(txnID string) (*txn.Coordinator, error) {
	_, part, ok := b.coordinatorPartitionOf(TransactionStateTopic, txnID)
	if !ok {
		return nil, kerr.NotCoordinator
	}
	return serving(b.coords.snapshot().txns[part])
}

// GroupCoordinators returns every loaded group coordinator shard of this
// broker, for the listings (ListGroups) that span all groups here.
func (b *Broker) GroupCoordinators() []*group.Coordinator {
	shards := b.coords.snapshot().groups
	out := make([]*group.Coordinator, 0, len(shards))
	for _, s := range shards {
		if ready(s.loaded) && !s.failed {
			out = append(out, s.c)
		}
	}
	return out
}

// TxnCoordinators returns every loaded transaction coordinator shard.
func (b *Broker) TxnCoordinators() []*txn.Coordinator {
	shards := b.coords.snapshot().txns
	out := make([]*txn.Coordinator, 0, len(shards))
	for _, s := range shards {
		if ready(s.loaded) && !s.failed {
			out = append(out, s.c)
		}
	}
	return out
}

// CoordinatorsLoading reports whether a shard of this broker is still
// loading its partition.
func (b *Broker) CoordinatorsLoading() bool {
	snap := b.coords.snapshot()
	for _, s := range snap.groups {
		if !ready(s.loaded) {
			return true
		}
	}
	for _, s := range snap.txns {
		if !ready(s.loaded) {
			return true
		}
	}
	return false
}

func ready(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// CoordinatorFor returns the broker that coordinates key: a group
// (__consumer_offsets) or a transactional id (__transaction_state). The
// error is kerr.CoordinatorNotAvailable while the topic does not exist or
// the partition has no live leader.
func (b *Broker) CoordinatorFor(topic, key string) (meta.BrokerInfo, error) {
	t, part, ok := b.coordinatorPartitionOf(topic, key)
	if !ok {
		return meta.BrokerInfo{}, kerr.CoordinatorNotAvailable
	}
	leader := b.PartitionPlacement(t, part).Leader
	if !b.Clustered() {
		return meta.BrokerInfo{NodeID: b.cfg.NodeID, Addr: b.cfg.AdvertisedAddr}, nil
	}
	bi, ok := b.Image().Broker(leader)
	if !ok || leader < 0 || bi.Fenced {
		return meta.BrokerInfo{}, kerr.CoordinatorNotAvailable
	}
	return bi, nil
}

// leaderEpoch returns the leader epoch under which this node leads p, and
// false when it does not lead it.
func (p *Partition) leaderEpoch() (int32, bool) {
	p.repl.mu.Lock()
	defer p.repl.mu.Unlock()
	if !p.repl.leading.Load() {
		return 0, false
	}
	return p.repl.epoch, true
}

// syncCoordinators loads a shard for every internal partition this node
// has started to lead and unloads the shards of partitions it no longer
// leads. Called after every reconcile.
func (b *Broker) syncCoordinators() {
	b.coords.mu.Lock()
	defer b.coords.mu.Unlock()
	if !b.coords.started {
		return
	}
	select {
	case <-b.stop:
		return // Close unloads everything
	default:
	}
	b.mu.RLock()
	offsets := append([]*Partition(nil), b.partitions[ConsumerOffsetsTopic]...)
	states := append([]*Partition(nil), b.partitions[TransactionStateTopic]...)
	b.mu.RUnlock()

	epochs := func(parts []*Partition) map[int32]int32 {
		out := map[int32]int32{}
		for _, p := range parts {
			if p == nil {
				continue
			}
			if e, ok := p.leaderEpoch(); ok {
				out[p.Index] = e
			}
		}
		return out
	}
	led := epochs(offsets)
	for part, s := range b.coords.groups {
		if e, ok := led[part]; !ok || e != s.epoch {
			unloadShardLocked(b, b.coords.groups, part, s, "group")
		}
	}
	for part, e := range led {
		if _, ok := b.coords.groups[part]; !ok {
			b.loadGroupShardLocked(offsets[part], e)
		}
	}
	led = epochs(states)
	for part, s := range b.coords.txns {
		if e, ok := led[part]; !ok || e != s.epoch {
			unloadShardLocked(b, b.coords.txns, part, s, "transaction")
		}
	}
	for part, e := range led {
		if _, ok := b.coords.txns[part]; !ok {
			b.loadTxnShardLocked(states[part], e)
		}
	}
}

// loadGroupShardLocked creates the shard of partition p and loads it in
// the background.
// REQUIRES: b.coords.mu held.
func (b *Broker) loadGroupShardLocked(p *Partition, epoch int32) {
	s := &groupShard{epoch: epoch, loaded: make(chan struct{})}
	s.c = group.New(b.groupConfig(), &offsetsLog{p: p, epoch: epoch, stop: b.stop}, group.Options{
		Logger:        b.log.With("component", "group"),
		LogName:       fmt.Sprintf("%s-%d", p.Topic, p.Index),
		Topics:        b.groupTopics,
		TopicsVersion: b.groupTopicsVersion,
		// Offsets may be committed for partitions any broker leads.
		PartitionExists: func(topic string, index int32) bool {
			t, ok := b.Image().Topic(topic)
			return ok && index >= 0 && index < t.Partitions
		},
	})
	b.coords.groups[p.Index] = s
	b.coords.publishLocked()
	b.coords.closing.Add(1)
	go func() {
		defer b.coords.closing.Done()
		start := time.Now()
		err := s.c.Load()
		b.coords.mu.Lock()
		defer b.coords.mu.Unlock()
		if err != nil {
			b.log.Error("cannot load group coordinator; groups of this partition are unavailable here", "partition", p.Index, "err", err)
			s.failed = true
		} else if !s.gone {
			s.c.Start()
			b.log.Info("group coordinator loaded", "partition", p.Index, "epoch", epoch, "took", time.Since(start).Round(time.Millisecond))
		}
		close(s.loaded)
	}()
}

// unloadShardLocked removes a shard from shards and closes it in the
// background once its load has finished: a group shard answers waiting
// joins and syncs NOT_COORDINATOR, a transaction shard waits for marker
// writes in flight. kind ("group", "transaction") names it in the log.
// REQUIRES: b.coords.mu held.
func unloadShardLocked[C interface{ Close() error }](b *Broker, shards map[int32]*shard[C], part int32, s *shard[C], kind string) {
	delete(shards, part)
	b.coords.publishLocked()
	s.gone = true
	b.coords.closing.Add(1)
	go func() {
		defer b.coords.closing.Done()
		<-s.loaded
		if err := s.c.Close(); err != nil {
			b.log.Warn(kind+" coordinator closed with an error", "partition", part, "err", err)
		}
		b.log.Info(kind+" coordinator unloaded", "partition", part, "epoch", s.epoch)
	}()
}

// loadTxnShardLocked is loadGroupShardLocked for __transaction_state.
// Transactions the log shows ending are completed after the load.
// REQUIRES: b.coords.mu held.
func (b *Broker) loadTxnShardLocked(p *Partition, epoch int32) {
	s := &txnShard{epoch: epoch, loaded: make(chan struct{})}
	s.c = txn.New(txn.Config{MaxTimeout: b.cfg.TransactionMaxTimeout, IDExpiration: b.cfg.TransactionalIDExpiration}, &offsetsLog{p: p, epoch: epoch, stop: b.stop}, txn.Options{
		Logger:           b.log.With("component", "txn"),
		LogName:          fmt.Sprintf("%s-%d", p.Topic, p.Index),
		NewProducerID:    b.NewProducerID,
		Partitions:       txnPartitions{b},
		LegacyOffsets:    legacyTxnOffsets{b},
		OffsetsTopic:     ConsumerOffsetsTopic,
		OffsetsPartition: b.offsetsPartitionFor,
		OnEnd:            b.metrics.txnEnded,
		OnTimeout:        b.metrics.txnTimedOut,
	})
	b.coords.txns[p.Index] = s
	b.coords.publishLocked()
	b.coords.closing.Add(1)
	go func() {
		defer b.coords.closing.Done()
		start := time.Now()
		err := s.c.Load()
		b.coords.mu.Lock()
		if err != nil {
			b.log.Error("cannot load transaction coordinator; transactional ids of this partition are unavailable here", "partition", p.Index, "err", err)
			s.failed = true
		}
		serve := err == nil && !s.gone
		if serve {
			s.c.Start()
			b.log.Info("transaction coordinator loaded", "partition", p.Index, "epoch", epoch, "took", time.Since(start).Round(time.Millisecond))
		}
		close(s.loaded)
		b.coords.mu.Unlock()
		if serve {
			s.c.Recover()
		}
	}()
}

// closeCoordinators unloads every shard and waits for the closes, before
// the logs close. Transaction shards go first: they may be committing
// offsets into groups.
func (b *Broker) closeCoordinators() {
	b.coords.mu.Lock()
	b.coords.started = false
	for part, s := range b.coords.txns {
		unloadShardLocked(b, b.coords.txns, part, s, "transaction")
	}
	b.coords.mu.Unlock()
	b.coords.closing.Wait()
	b.coords.mu.Lock()
	for part, s := range b.coords.groups {
		unloadShardLocked(b, b.coords.groups, part, s, "group")
	}
	b.coords.mu.Unlock()
	b.coords.closing.Wait()
}

// offsetsLog gives a coordinator shard its partition of an internal
// topic. Writes are refused once this node no longer leads the partition
// under the epoch the shard was loaded with, so a deposed coordinator
// never appends to what is now a follower's log; a write is durable once
// the partition's ISR has it (acks=all), so a committed offset survives
// the loss of the coordinator's broker.
type offsetsLog struct {
	p     *Partition
	epoch int32
	stop  <-chan struct{} // the broker's: closed at shutdown
}

func (l *offsetsLog) Append(batch []byte) (int64, error) {
	if e, ok := l.p.leaderEpoch(); !ok || e != l.epoch {
		return 0, fmt.Errorf("%w: %s-%d is no longer led here under epoch %d", kerr.NotCoordinator, l.p.Topic, l.p.Index, l.epoch)
	}
	res, err := l.p.Append(batch)
	if err != nil {
		return 0, err
	}
	return res.LastOffset + 1, nil
}

func (l *offsetsLog) Sync(upTo int64) error {
	if err := l.p.Sync(upTo); err != nil {
		return err
	}
	select {
	case <-l.stop:
		// Shutting down (the last sync of group metadata): the
		// followers may no longer reach this node; local is enough.
		return nil
	default:
	}
	return l.p.WaitReplicated(upTo, commitReplicationTimeout)
}

func (l *offsetsLog) Read(offset int64, maxBytes int) ([]byte, error) {
	s, err := l.p.log.Read(offset, maxBytes, true)
	if err != nil {
		return nil, err
	}
	return s.ReadAll()
}
