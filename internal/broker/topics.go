package broker

import (
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
)

// MaxPartitions bounds one topic's partition count so a request cannot
// make the broker open millions of files.
const MaxPartitions = 10000

// ValidateTopicName applies Kafka's rules for topic names.
func ValidateTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%w: topic name %q is not allowed", kerr.InvalidTopicException, name)
	}
	if len(name) > 249 {
		return fmt.Errorf("%w: topic name is %d characters, the limit is 249", kerr.InvalidTopicException, len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: topic name %q may only contain letters, digits, '.', '_' and '-'", kerr.InvalidTopicException, name)
		}
	}
	return nil
}

// CreateTopic creates a topic with the broker's default replication
// factor; partitions <= 0 means the broker default. With validateOnly
// nothing is written. Errors wrap kerr codes.
func (b *Broker) CreateTopic(name string, partitions int32, configs map[string]string, validateOnly bool) (*meta.Topic, error) {
	return b.CreateTopicSpec(TopicSpec{Name: name, Partitions: partitions, Configs: configs, ValidateOnly: validateOnly})
}

// TopicSpec is a topic to create.
type TopicSpec struct {
	Name string
	// Partitions <= 0 takes --num-partitions.
	Partitions int32
	// ReplicationFactor <= 0 takes the default (see
	// defaultReplicationFactor), internal topics included.
	ReplicationFactor int16
	// Assignment, when set, names each partition's replicas (the first
	// leads) instead of Partitions and ReplicationFactor.
	Assignment   [][]int32
	Configs      map[string]string
	ValidateOnly bool
}

// minISRForRF3 is the min.insync.replicas a topic with replication factor
// 3 or more gets when neither it nor the broker defaults name one: an
// acknowledged acks=all write is then on two replicas at least (Kafka's
// default, 1, would let it sit on the leader alone).
const minISRForRF3 = "2"

// CreateTopicSpec creates a topic. Errors wrap kerr codes.
func (b *Broker) CreateTopicSpec(spec TopicSpec) (*meta.Topic, error) {
	name, partitions, validateOnly := spec.Name, spec.Partitions, spec.ValidateOnly
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if spec.Assignment != nil {
		partitions = int32(len(spec.Assignment))
	}
	if partitions <= 0 {
		partitions = b.cfg.NumPartitions
	}
	if partitions > MaxPartitions {
		return nil, fmt.Errorf("%w: %d partitions is over the limit of %d", kerr.InvalidPartitions, partitions, MaxPartitions)
	}
	if _, err := config.ParseTopicConfigs(spec.Configs, b.cfg.TopicDefaults); err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
	}
	configs := spec.Configs
	start := time.Now()
	var rf int16
	var placed []meta.Placement
	img, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		if _, ok := img.Topic(name); ok {
			return nil, fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, name)
		}
		if err := b.checkTotalPartitions(img, partitions); err != nil {
			return nil, err
		}
		var placement []meta.Placement
		var err error
		if spec.Assignment != nil {
			placement, err = b.placeAssigned(img, spec.Assignment)
		} else {
			rf = spec.ReplicationFactor
			if rf <= 0 {
				rf = b.defaultReplicationFactor(img)
			}
			placement, err = b.place(img, 0, partitions, rf)
		}
		if err != nil {
			return nil, err
		}
		rf, placed = int16(len(placement[0].Replicas)), placement
		configs = withMinISR(spec.Configs, b.cfg.TopicDefaults, rf)
		if validateOnly {
			return nil, meta.ErrNoChange
		}
		return []meta.Record{{Topic: &meta.TopicRecord{Name: name, ID: newTopicID(), Partitions: partitions, Configs: configs,
			Placement: placement}}}, nil
	})
	if err != nil {
		return nil, err
	}
	if validateOnly {
		return &meta.Topic{Name: name, Partitions: partitions, Configs: configs, Placement: placed}, nil
	}
	if _, err := b.reconcile(); err != nil {
		return nil, err
	}
	t, _ := img.Topic(name)
	b.log.Info("topic created", "topic", name, "partitions", partitions, "replication_factor", rf, "took", time.Since(start).Round(time.Millisecond))
	return t, nil
}

// withMinISR returns configs with min.insync.replicas=2 added when the
// replication factor is 3 or more and neither configs nor the broker
// defaults name it.
func withMinISR(configs, defaults map[string]string, rf int16) map[string]string {
	const key = "min.insync.replicas"
	if rf < 3 {
		return configs
	}
	if _, ok := configs[key]; ok {
		return configs
	}
	if _, ok := defaults[key]; ok {
		return configs
	}
	out := maps.Clone(configs)
	if out == nil {
		out = map[string]string{}
	}
	out[key] = minISRForRF3
	return out
}

// checkTotalPartitions refuses growth past --max-partitions: every partition
// holds open files (log, indexes), so the broker-wide count is bounded
// rather than left to the file-descriptor limit.
func (b *Broker) checkTotalPartitions(img *meta.Image, adding int32) error {
	var total int64
	for _, t := range img.Topics() {
		total += int64(t.Partitions)
	}
	if limit := int64(b.cfg.MaxPartitions); total+int64(adding) > limit {
		return fmt.Errorf("%w: the broker holds %d partitions and allows %d in all (--max-partitions); %d more do not fit", kerr.PolicyViolation, total, limit, adding)
	}
	return nil
}

// EnsureTopic returns the topic, creating it with defaults when automatic
// creation is on.
func (b *Broker) EnsureTopic(name string) (*meta.Topic, error) {
	if t, ok := b.Image().Topic(name); ok {
		return t, nil
	}
	if !b.cfg.AutoCreateTopics {
		return nil, kerr.UnknownTopicOrPartition
	}
	t, err := b.CreateTopic(name, 0, nil, false)
	if err != nil && kerr.TypedErrorForCode(kerrCode(err)) == kerr.TopicAlreadyExists {
		if t, ok := b.Image().Topic(name); ok {
			return t, nil
		}
	}
	return t, err
}

// DeleteTopic removes a topic and its data.
func (b *Broker) DeleteTopic(name string) error {
	if IsInternalTopic(name) {
		return errInternalTopic(name)
	}
	start := time.Now()
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		if _, ok := img.Topic(name); !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		return []meta.Record{{Remove: &meta.RemoveTopicRecord{Name: name}}}, nil
	})
	if err != nil {
		return err
	}
	_, err = b.reconcile()
	b.log.Info("topic deleted", "topic", name, "took", time.Since(start).Round(time.Millisecond))
	return err
}

// CreatePartitions raises a topic's partition count.
func (b *Broker) CreatePartitions(name string, count int32, validateOnly bool) error {
	if IsInternalTopic(name) {
		return errInternalTopic(name)
	}
	if count > MaxPartitions {
		return fmt.Errorf("%w: %d partitions is over the limit of %d", kerr.InvalidPartitions, count, MaxPartitions)
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		t, ok := img.Topic(name)
		if !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		if count <= t.Partitions {
			return nil, fmt.Errorf("%w: topic %q has %d partitions; the new count must be larger", kerr.InvalidPartitions, name, t.Partitions)
		}
		if err := b.checkTotalPartitions(img, count-t.Partitions); err != nil {
			return nil, err
		}
		if validateOnly {
			return nil, meta.ErrNoChange
		}
		rf := int16(1)
		if len(t.Placement) > 0 {
			rf = int16(len(t.Placement[0].Replicas))
		}
		placement, err := b.place(img, t.Partitions, count-t.Partitions, rf)
		if err != nil {
			return nil, err
		}
		return []meta.Record{{Partitions: &meta.PartitionsRecord{Topic: name, Count: count, Placement: placement}}}, nil
	})
	if err != nil || validateOnly {
		return err
	}
	_, err = b.reconcile()
	return err
}

// ConfigChange is one requested change of a topic config; a nil Value
// removes the key, returning it to the default.
type ConfigChange struct {
	Key   string
	Value *string
}

// AlterTopicConfigs applies changes to a topic's configs. With replace,
// keys not named are removed (the legacy AlterConfigs semantics).
func (b *Broker) AlterTopicConfigs(name string, changes []ConfigChange, replace, validateOnly bool) error {
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		t, ok := img.Topic(name)
		if !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		next := map[string]string{}
		if !replace {
			for k, v := range t.Configs {
				next[k] = v
			}
		}
		for _, c := range changes {
			if _, known := config.LookupTopicKey(c.Key); !known {
				return nil, fmt.Errorf("%w: unknown topic config %q", kerr.InvalidConfig, c.Key)
			}
			if c.Value == nil {
				delete(next, c.Key)
			} else {
				next[c.Key] = *c.Value
			}
		}
		if _, err := config.ParseTopicConfigs(next, b.cfg.TopicDefaults); err != nil {
			return nil, fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
		}
		if validateOnly {
			return nil, meta.ErrNoChange
		}
		var recs []meta.Record
		for k := range t.Configs {
			if _, ok := next[k]; !ok {
				recs = append(recs, meta.Record{Config: &meta.ConfigRecord{Topic: name, Key: k}})
			}
		}
		for k, v := range next {
			if old, ok := t.Configs[k]; !ok || old != v {
				v := v
				recs = append(recs, meta.Record{Config: &meta.ConfigRecord{Topic: name, Key: k, Value: &v}})
			}
		}
		if len(recs) == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	if err != nil || validateOnly {
		return err
	}
	_, err = b.reconcile()
	return err
}

// TopicConfig returns a topic's effective configuration.
func (b *Broker) TopicConfig(t *meta.Topic) config.TopicConfig {
	tc, err := config.ParseTopicConfigs(t.Configs, b.cfg.TopicDefaults)
	if err != nil {
		// Configs were validated before they were written.
		b.log.Error("stored topic config does not parse", "topic", t.Name, "err", err)
	}
	return tc
}

// reconcile brings the open partitions in line with the latest metadata
// image: it deletes the logs of removed topics (and of a topic whose name was
// reused, told apart by its id), applies config changes, and opens new
// partitions, in parallel. Calls are serialized by reconcileMu and always
// read the newest image, so concurrent metadata changes converge whatever
// order their reconciles run in. File work (deleting directories, opening
// and recovering logs) runs without Broker.mu, so produce and fetch on other
// partitions never wait for it. It returns how many partitions it opened.
func (b *Broker) reconcile() (int, error) {
	b.reconcileMu.Lock()
	defer b.reconcileMu.Unlock()
	img := b.meta.Image()

	b.mu.Lock()
	var removed []*Partition
	for name, parts := range b.partitions {
		if t, ok := img.Topic(name); ok && t.ID == b.topicIDs[name] {
			continue
		}
		removed = append(removed, nonNil(parts)...)
		delete(b.partitions, name)
		delete(b.topicIDs, name)
	}
	current := make(map[string]int, len(b.partitions))
	for name, parts := range b.partitions {
		current[name] = len(parts)
	}
	b.mu.Unlock()

	b.dropFromFetchers(removed)
	b.deletePartitions(removed)
	b.moveLocalReplicas(img)

	var jobs []openJob
	for _, t := range img.Topics() {
		tc := b.TopicConfig(t)
		b.mu.RLock()
		existing := b.partitions[t.Name]
		b.mu.RUnlock()
		for _, p := range nonNil(existing) {
			if p.config != tc {
				if err := p.log.SetConfig(tc.Log); err != nil {
					return 0, err
				}
				p.setConfig(tc)
			}
		}
		for i := int32(current[t.Name]); i < t.Partitions; i++ {
			jobs = append(jobs, openJob{topic: t, index: i, tc: tc, remote: !b.hostsReplica(t, i)})
		}
	}
	results := b.openPartitions(jobs)
	n, err := b.addOpened(current, jobs, results)
	b.applyPlacements()
	b.syncCoordinators() // coordinators follow the leadership of their partitions
	b.syncScheduler()    // so does the scheduler of delayed messages
	b.notifyLeadershipWatchers()
	return n, err
}

// addOpened publishes the partitions reconcile opened. A topic's partitions
// are a slice by index, so only the run of successes that continues the
// open ones is kept; partitions opened after a failure are closed again and
// retried by the next reconcile. New directories become durable with one
// fsync of the data dir before any is published.
func (b *Broker) addOpened(current map[string]int, jobs []openJob, results []openResult) (int, error) {
	var firstErr error
	failed := 0
	created := false
	for i, r := range results {
		created = created || r.created
		if r.err != nil {
			failed++
			b.log.Error("cannot open partition", "topic", jobs[i].topic.Name, "partition", jobs[i].index, "err", r.err)
			if firstErr == nil {
				firstErr = r.err
			}
		}
	}
	if created {
		if err := syncDir(b.cfg.DataDir); err != nil {
			for _, r := range results {
				if r.p != nil {
					r.p.log.Close()
				}
			}
			return 0, fmt.Errorf("%w: new partition directories are not durable: %v", kerr.KafkaStorageError, err)
		}
	}
	opened := 0
	// jobs come grouped by topic, in index order.
	for start := 0; start < len(jobs); {
		t := jobs[start].topic
		end := start
		for end < len(jobs) && jobs[end].topic == t {
			end++
		}
		var add []*Partition
		broken := false
		for _, r := range results[start:end] {
			switch {
			case r.err != nil:
				broken = true
			case broken:
				if r.p != nil {
					r.p.log.Close()
				}
			default:
				add = append(add, r.p)
			}
		}
		if len(add) > 0 || current[t.Name] == 0 {
			b.mu.Lock()
			b.partitions[t.Name] = append(b.partitions[t.Name], add...)
			b.topicIDs[t.Name] = t.ID
			b.mu.Unlock()
		}
		opened += len(add)
		start = end
	}
	if firstErr != nil && failed > 1 {
		firstErr = fmt.Errorf("%w (and %d more partitions failed to open)", firstErr, failed-1)
	}
	return opened, firstErr
}

// Partition returns a partition by topic and index.
func (b *Broker) Partition(topic string, index int32) (*Partition, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	parts, ok := b.partitions[topic]
	if !ok || index < 0 || int(index) >= len(parts) {
		return nil, kerr.UnknownTopicOrPartition
	}
	if parts[index] == nil || !parts[index].Leading() {
		return nil, fmt.Errorf("%w: %s-%d is led by another broker", kerr.NotLeaderForPartition, topic, index)
	}
	return parts[index], nil
}

// Replica returns this node's replica of a partition, led here or not:
// what a follower's fetch reads from on the leader is Partition; this is
// for the leader-side checks that must tell "not a replica" from "not the
// leader".
func (b *Broker) Replica(topic string, index int32) (*Partition, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	parts, ok := b.partitions[topic]
	if !ok || index < 0 || int(index) >= len(parts) {
		return nil, kerr.UnknownTopicOrPartition
	}
	if parts[index] == nil {
		return nil, fmt.Errorf("%w: no replica of %s-%d on this broker", kerr.NotLeaderForPartition, topic, index)
	}
	return parts[index], nil
}

func kerrCode(err error) int16 {
	var ke *kerr.Error
	if asKerr(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}
