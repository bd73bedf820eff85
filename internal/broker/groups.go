package broker

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/group"
)

// ConsumerOffsetsTopic is the internal topic where the group coordinator
// keeps committed offsets and group metadata.
const ConsumerOffsetsTopic = "__consumer_offsets"

// consumerOffsetsConfigs are the configs __consumer_offsets is created with.
// It has one partition: on a single node one log with group commit is
// enough, and the coordinator reads just one at start-up. As in Kafka it is
// compacted, so only the latest offset and metadata per key survive and
// start-up replay stays proportional to the number of groups and partitions,
// not to the number of commits ever made; segments of
// --offsets-segment-bytes (100 MiB) let the cleaner reach all but the
// newest commits. Batches may be as large as a request.
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
	return name == ConsumerOffsetsTopic || name == TransactionStateTopic
}

// errInternalTopic refuses client changes to an internal topic.
func errInternalTopic(name string) error {
	return fmt.Errorf("%w: %s is an internal topic", kerr.InvalidTopicException, name)
}

// createInternalTopic creates an internal topic with one partition. In a
// cluster every node tries at its first start; one create wins.
func (b *Broker) createInternalTopic(name string, configs map[string]string) error {
	_, err := b.CreateTopic(name, 1, configs, false)
	if err == nil {
		return nil
	}
	if kerrCode(err) != kerr.TopicAlreadyExists.Code {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// Another node created it: open its partition if it is ours.
	_, err = b.reconcile()
	return err
}

// coordinatesHere reports whether this node leads partition 0 of an
// internal topic and so runs its coordinator. In a cluster the group and
// transaction coordinators run on one broker each, until coordinators
// move with partition leadership; the others answer FindCoordinator with
// that broker and refuse coordinator requests (see the kafka package).
func (b *Broker) coordinatesHere(topic string) bool {
	t, ok := b.Image().Topic(topic)
	if !ok || b.leads(t, 0) {
		if b.Clustered() {
			// Another node may have created the topic after this
			// node's last reconcile: open the partition now.
			if _, err := b.reconcile(); err != nil {
				b.log.Error("cannot open the partitions of the metadata image", "err", err)
			}
		}
		return true
	}
	b.log.Info("coordinator runs on another broker", "topic", topic, "node", t.Leader(0))
	return false
}

// Groups returns the consumer-group coordinator; nil on a cluster node
// that does not lead __consumer_offsets.
func (b *Broker) Groups() *group.Coordinator { return b.groups }

// startGroups creates __consumer_offsets if needed, replays it into a new
// coordinator and starts the coordinator's timers.
func (b *Broker) startGroups() error {
	want := consumerOffsetsConfigs(b.cfg.MaxRequestBytes, b.cfg.OffsetsSegmentBytes)
	if t, ok := b.Image().Topic(ConsumerOffsetsTopic); !ok {
		if err := b.createInternalTopic(ConsumerOffsetsTopic, want); err != nil {
			return err
		}
	} else if !maps.Equal(t.Configs, want) {
		// Data dirs made before compaction existed: bring the topic's
		// configs up to date.
		var changes []ConfigChange
		for k, v := range want {
			changes = append(changes, ConfigChange{Key: k, Value: &v})
		}
		if err := b.AlterTopicConfigs(ConsumerOffsetsTopic, changes, true, false); err != nil {
			return fmt.Errorf("update %s configs: %w", ConsumerOffsetsTopic, err)
		}
	}
	if !b.coordinatesHere(ConsumerOffsetsTopic) {
		return nil
	}
	p, err := b.Partition(ConsumerOffsetsTopic, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", ConsumerOffsetsTopic, err)
	}
	cfg := group.DefaultConfig()
	cfg.MinSessionTimeout = b.cfg.GroupMinSessionTimeout
	cfg.MaxSessionTimeout = b.cfg.GroupMaxSessionTimeout
	cfg.InitialRebalanceDelay = b.cfg.GroupInitialRebalanceDelay
	cfg.OffsetsRetention = b.cfg.OffsetsRetention
	cfg.RetentionCheckInterval = b.cfg.OffsetsRetentionCheckInterval
	cfg.Consumer.SessionTimeout = b.cfg.GroupConsumerSessionTimeout
	cfg.Consumer.HeartbeatInterval = b.cfg.GroupConsumerHeartbeatInterval
	b.groups = group.New(cfg, offsetsLog{p}, group.Options{
		Logger: b.log.With("component", "group"),
		Topics: b.groupTopics,
		// Offsets may be committed for partitions any broker leads.
		PartitionExists: func(topic string, index int32) bool {
			t, ok := b.Image().Topic(topic)
			return ok && index >= 0 && index < t.Partitions
		},
	})
	if err := b.groups.Load(); err != nil {
		return err
	}
	b.groups.Start()
	return nil
}

// offsetsLog gives the coordinator the partition of __consumer_offsets.
type offsetsLog struct{ p *Partition }

func (l offsetsLog) Append(batch []byte) (int64, error) {
	res, err := l.p.Append(batch)
	if err != nil {
		return 0, err
	}
	return res.LastOffset + 1, nil
}

func (l offsetsLog) Sync(upTo int64) error { return l.p.Sync(upTo) }

func (l offsetsLog) Read(offset int64, maxBytes int) ([]byte, error) {
	s, err := l.p.log.Read(offset, maxBytes, true)
	if err != nil {
		return nil, err
	}
	return s.ReadAll()
}

// groupTopics lists the topics for the KIP-848 consumer group assignors.
func (b *Broker) groupTopics() []group.TopicInfo {
	ts := b.Image().Topics()
	out := make([]group.TopicInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, group.TopicInfo{Name: t.Name, ID: t.ID, Partitions: t.Partitions})
	}
	return out
}
