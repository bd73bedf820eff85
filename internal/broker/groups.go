package broker

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/cluster"
	"github.com/ferry-mq/ferry/internal/group"
	"github.com/ferry-mq/ferry/internal/meta"
)

// ConsumerOffsetsTopic is the internal topic where the group coordinator
// keeps committed offsets and group metadata.
const ConsumerOffsetsTopic = "__consumer_offsets"

// consumerOffsetsConfigs are the configs __consumer_offsets is created with.
// It has --offsets-topic-partitions partitions (50), each holding the
// groups that hash to it and led by the broker that coordinates them (see
// coordinators.go). As in Kafka it is compacted, so only the latest offset
// and metadata per key survive and loading a partition stays proportional
// to the number of groups and partitions, not to the number of commits
// ever made; segments of --offsets-segment-bytes (100 MiB) let the cleaner
// reach all but the newest commits. Batches may be as large as a request.
func consumerOffsetsConfigs(maxRequestBytes, segmentBytes int32) map[string]string {
	return map[string]string{
		"cleanup.policy":    "compact",
		"segment.bytes":     strconv.Itoa(int(segmentBytes)),
		"max.message.bytes": strconv.Itoa(int(maxRequestBytes)),
	}
}

// IsInternalTopic reports whether a topic belongs to the broker itself:
// listed in Metadata as internal, never produced to, deleted or grown by
// clients.
func IsInternalTopic(name string) bool {
	return name == ConsumerOffsetsTopic || name == TransactionStateTopic || name == RocketMQHalfTopic || name == ScheduledTopic
}

// RocketMQHalfTopic holds the RocketMQ front's pending transactional
// ("half") messages (internal/rocketmq/transactions.go).
const RocketMQHalfTopic = "__rmq_half"

// errInternalTopic refuses client changes to an internal topic.
func errInternalTopic(name string) error {
	return fmt.Errorf("%w: %s is an internal topic", kerr.InvalidTopicException, name)
}

// createInternalTopic creates an internal topic with the default
// replication factor. In a cluster every node tries at its first start;
// one create wins. A topic that exists keeps its partition count: ids are
// hashed over it.
func (b *Broker) createInternalTopic(name string, partitions int32, configs map[string]string) error {
	_, err := b.CreateTopic(name, partitions, configs, false)
	if err == nil {
		return nil
	}
	if kerrCode(err) != kerr.TopicAlreadyExists.Code {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// Another node created it: open its partitions that are ours.
	_, err = b.reconcile()
	return err
}

// startCoordinators creates the internal topics if needed and loads a
// coordinator shard for each of their partitions this node leads; it
// returns once those are loaded, so a single node answers its first
// requests as before. Later leadership changes load and unload shards
// from reconcile.
func (b *Broker) startCoordinators() error {
	if b.Clustered() {
		if err := b.updateConsumerOffsetsConfigs(); err != nil {
			return err
		}
		if !b.internalTopicsExist() {
			b.wg.Add(1)
			go b.createInternalTopicsWhenReady()
		}
	} else if err := b.createInternalTopics(); err != nil {
		return err
	}
	b.coords.mu.Lock()
	b.coords.started = true
	b.coords.groups = map[int32]*groupShard{}
	b.coords.txns = map[int32]*txnShard{}
	b.coords.mu.Unlock()
	b.syncCoordinators()
	b.coords.mu.Lock()
	var loading []chan struct{}
	for _, s := range b.coords.groups {
		loading = append(loading, s.loaded)
	}
	for _, s := range b.coords.txns {
		loading = append(loading, s.loaded)
	}
	b.coords.mu.Unlock()
	for _, ch := range loading {
		<-ch
	}
	return nil
}

// createInternalTopics creates the internal topics that do not exist.
func (b *Broker) createInternalTopics() error {
	if _, ok := b.Image().Topic(ConsumerOffsetsTopic); !ok {
		want := consumerOffsetsConfigs(b.cfg.MaxRequestBytes, b.cfg.OffsetsSegmentBytes)
		if err := b.createInternalTopic(ConsumerOffsetsTopic, b.cfg.OffsetsTopicPartitions, want); err != nil {
			return err
		}
	}
	if _, ok := b.Image().Topic(TransactionStateTopic); !ok {
		if err := b.createInternalTopic(TransactionStateTopic, b.cfg.TxnTopicPartitions, transactionStateConfigs(b.cfg.MaxRequestBytes)); err != nil {
			return err
		}
	}
	return b.updateConsumerOffsetsConfigs()
}

func (b *Broker) internalTopicsExist() bool {
	img := b.Image()
	_, a := img.Topic(ConsumerOffsetsTopic)
	_, c := img.Topic(TransactionStateTopic)
	return a && c
}

// internalTopicsGrace is how long a new cluster waits for enough brokers
// to give the internal topics their full replication factor before it
// creates them with the brokers it has.
const internalTopicsGrace = 30 * time.Second

// createInternalTopicsWhenReady creates the internal topics of a new
// cluster once as many brokers are live as the default replication
// factor asks (min(3, controller voters) unless set): nodes starting
// together register one after the other, and a topic created by the
// first would otherwise get one replica for good. Until then
// FindCoordinator answers COORDINATOR_NOT_AVAILABLE and clients retry.
func (b *Broker) createInternalTopicsWhenReady() {
	defer b.wg.Done()
	want := 3
	if voters, err := cluster.ParseQuorum(b.cfg.ControllerQuorum); err == nil {
		want = min(want, len(voters))
	}
	if b.cfg.DefaultReplicationFactor > 0 {
		want = int(b.cfg.DefaultReplicationFactor)
	}
	start := time.Now()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for !b.internalTopicsExist() {
		live := len(b.Image().LiveBrokers())
		if live >= want || time.Since(start) > internalTopicsGrace {
			if live < want {
				b.log.Warn("creating the internal topics with fewer replicas than wanted: not enough brokers are live", "live", live, "want", want)
			}
			if err := b.createInternalTopics(); err != nil {
				b.log.Warn("cannot create the internal topics yet; retrying", "err", err)
			}
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// updateConsumerOffsetsConfigs brings the configs of a __consumer_offsets
// made by an older version up to date.
func (b *Broker) updateConsumerOffsetsConfigs() error {
	want := consumerOffsetsConfigs(b.cfg.MaxRequestBytes, b.cfg.OffsetsSegmentBytes)
	t, ok := b.Image().Topic(ConsumerOffsetsTopic)
	if !ok {
		return nil
	}
	// Data dirs made before compaction existed: bring the topic's
	// configs up to date. Others (min.insync.replicas) stay.
	var changes []ConfigChange
	for k, v := range want {
		if t.Configs[k] != v {
			changes = append(changes, ConfigChange{Key: k, Value: &v})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := b.AlterTopicConfigs(ConsumerOffsetsTopic, changes, false, false); err != nil {
		return fmt.Errorf("update %s configs: %w", ConsumerOffsetsTopic, err)
	}
	return nil
}

// groupConfig is the group coordinators' configuration.
func (b *Broker) groupConfig() group.Config {
	cfg := group.DefaultConfig()
	cfg.MinSessionTimeout = b.cfg.GroupMinSessionTimeout
	cfg.MaxSessionTimeout = b.cfg.GroupMaxSessionTimeout
	cfg.InitialRebalanceDelay = b.cfg.GroupInitialRebalanceDelay
	cfg.OffsetsRetention = b.cfg.OffsetsRetention
	cfg.RetentionCheckInterval = b.cfg.OffsetsRetentionCheckInterval
	cfg.Consumer.SessionTimeout = b.cfg.GroupConsumerSessionTimeout
	cfg.Consumer.HeartbeatInterval = b.cfg.GroupConsumerHeartbeatInterval
	return cfg
}

// topicList is the topic list the KIP-848 assignors see, rebuilt once per
// metadata image (not per heartbeat); version changes only when a topic
// is created, deleted or grown, so a heartbeat of a group whose
// membership did not change skips the assignment entirely.
type topicList struct {
	mu      sync.Mutex
	img     *meta.Image
	topics  []group.TopicInfo
	version uint64
}

// current returns the list for the newest image.
func (b *Broker) currentTopics() ([]group.TopicInfo, uint64) {
	img := b.Image()
	tl := &b.topicList
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.img == img {
		return tl.topics, tl.version
	}
	ts := img.Topics()
	out := make([]group.TopicInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, group.TopicInfo{Name: t.Name, ID: t.ID, Partitions: t.Partitions})
	}
	if tl.img == nil || !slices.Equal(out, tl.topics) {
		tl.version++
		tl.topics = out
	}
	tl.img = img
	return tl.topics, tl.version
}

// groupTopics lists the topics for the KIP-848 consumer group assignors.
func (b *Broker) groupTopics() []group.TopicInfo {
	ts, _ := b.currentTopics()
	return ts
}

// groupTopicsVersion says whether groupTopics changed since last asked.
func (b *Broker) groupTopicsVersion() uint64 {
	_, v := b.currentTopics()
	return v
}
