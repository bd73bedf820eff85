package broker

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/schedule"
)

// ScheduledTopic is the internal topic holding scheduled messages until
// they are delivered (format: internal/schedule/doc.go).
const ScheduledTopic = "__scheduled"

// schedulerDirName is the scheduler's index under the data dir; it is
// derived from __scheduled and rebuilt from it when missing.
const schedulerDirName = "__scheduler"

// scheduledDeliveryTimeout bounds the wait for the ISR when a scheduled
// message is delivered to a replicated partition.
const scheduledDeliveryTimeout = 30 * time.Second

// scheduledConfigs: one partition, compacted (each delivered message is
// followed by a tombstone, so the log holds what is pending), batches as
// large as a request.
func scheduledConfigs(maxRequestBytes int32) map[string]string {
	return map[string]string{
		"cleanup.policy":    "compact",
		"segment.bytes":     strconv.Itoa(64 << 20),
		"max.message.bytes": strconv.Itoa(int(maxRequestBytes)),
	}
}

// schedulerHost runs the scheduler on the node leading __scheduled-0 and
// moves it with that leadership, as the coordinators move with theirs
// (coordinators.go): reconcile kicks it after every metadata change, and
// one goroutine closes and opens schedulers, so two never share the
// index directory.
type schedulerHost struct {
	mu sync.Mutex
	s  *schedule.Scheduler // nil when this node does not lead __scheduled-0

	kick chan struct{}
	// Owned by the goroutine running manageScheduler.
	part  *Partition
	epoch int32
	wake  chan struct{}
}

// startScheduler creates __scheduled if needed (on a cluster, once the
// coordinators' internal topics exist, so it gets their replication), opens
// the scheduler if this node leads it, and starts following leadership.
func (b *Broker) startScheduler() error {
	b.sched.kick = make(chan struct{}, 1)
	if _, ok := b.Image().Topic(ScheduledTopic); !ok {
		if !b.Clustered() {
			if err := b.createInternalTopic(ScheduledTopic, 1, scheduledConfigs(b.cfg.MaxRequestBytes)); err != nil {
				return err
			}
		} else {
			b.wg.Add(1)
			go b.createScheduledTopicWhenReady()
		}
	}
	b.reloadScheduler()
	b.wg.Add(1)
	go b.manageScheduler()
	return nil
}

// createScheduledTopicWhenReady creates __scheduled on a new cluster once
// the coordinators' internal topics exist (enough brokers are live).
func (b *Broker) createScheduledTopicWhenReady() {
	defer b.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if _, ok := b.Image().Topic(ScheduledTopic); ok {
			return
		}
		if b.internalTopicsExist() {
			if err := b.createInternalTopic(ScheduledTopic, 1, scheduledConfigs(b.cfg.MaxRequestBytes)); err != nil {
				b.log.Warn("cannot create the scheduled-messages topic yet; retrying", "topic", ScheduledTopic, "err", err)
			}
		}
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// syncScheduler asks the scheduler to follow a leadership change; called
// after every reconcile.
func (b *Broker) syncScheduler() {
	if b.sched.kick == nil {
		return // not started
	}
	select {
	case b.sched.kick <- struct{}{}:
	default:
	}
}

func (b *Broker) manageScheduler() {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			b.closeScheduler()
			return
		case <-b.sched.kick:
			b.reloadScheduler()
		}
	}
}

// reloadScheduler closes the scheduler if this node stopped leading
// __scheduled-0 (or leads it under a new epoch) and opens one if it leads
// it. Its index is derived from committed records only, which no leader
// change rewrites, so a new leader goes on from its own index.
func (b *Broker) reloadScheduler() {
	h := &b.sched
	var part *Partition
	b.mu.RLock()
	if parts := b.partitions[ScheduledTopic]; len(parts) > 0 {
		part = parts[0]
	}
	b.mu.RUnlock()
	epoch, leading := int32(0), false
	if part != nil {
		epoch, leading = part.leaderEpoch()
	}
	if h.part != nil && (!leading || part != h.part || epoch != h.epoch) {
		b.closeScheduler()
	}
	if !leading || h.part != nil {
		return
	}
	wake := make(chan struct{}, 1)
	part.Watch(wake)
	cfg := schedule.DefaultConfig(filepath.Join(b.cfg.DataDir, schedulerDirName, "p0"))
	s, err := schedule.New(cfg, schedule.Options{
		Log:     scheduledLog{part},
		Deliver: b.deliverScheduled,
		Logger:  b.log.With("component", "schedule"),
		Wake:    wake,
		OnDelivered: func(late time.Duration) {
			b.metrics.schedLate.Observe(late.Seconds())
		},
	})
	if err != nil {
		part.Unwatch(wake)
		b.log.Error("cannot open the scheduler of delayed messages; scheduled produce is refused until the next leadership change", "err", err)
		return
	}
	s.Start()
	h.part, h.epoch, h.wake = part, epoch, wake
	h.mu.Lock()
	h.s = s
	h.mu.Unlock()
	b.log.Info("scheduler of delayed messages running", "partition", ScheduledTopic+"-0", "epoch", epoch)
}

// closeScheduler stops the scheduler, if any, before its log closes.
func (b *Broker) closeScheduler() {
	h := &b.sched
	h.mu.Lock()
	s := h.s
	h.s = nil
	h.mu.Unlock()
	if s == nil {
		return
	}
	if err := s.Close(); err != nil {
		b.log.Warn("closing the scheduler", "err", err)
	}
	h.part.Unwatch(h.wake)
	h.part, h.wake = nil, nil
}

// Scheduler returns the broker's scheduler of delayed messages. On a
// node that does not lead __scheduled it fails with NOT_COORDINATOR:
// scheduled writes go to the node that leads it.
func (b *Broker) Scheduler() (*schedule.Scheduler, error) {
	b.sched.mu.Lock()
	s := b.sched.s
	b.sched.mu.Unlock()
	if s == nil {
		leader := int32(-1)
		if t, ok := b.Image().Topic(ScheduledTopic); ok {
			leader = b.PartitionPlacement(t, 0).Leader
		}
		return nil, fmt.Errorf("%w: scheduled messages are kept by node %d, which leads %s", kerr.NotCoordinator, leader, ScheduledTopic)
	}
	return s, nil
}

// deliverScheduled appends a due batch to its target partition, here or
// on the broker leading it (schedule_remote.go); wait gives it the
// durability of an acks=all produce.
func (b *Broker) deliverScheduled(topic string, index int32, batch []byte) (func() error, error) {
	t, ok := b.Image().Topic(topic)
	if !ok || index < 0 || index >= t.Partitions {
		return nil, fmt.Errorf("%w: %s-%d", schedule.ErrTargetGone, topic, index)
	}
	if leader := b.PartitionPlacement(t, index).Leader; leader != b.cfg.NodeID && leader >= 0 {
		return b.deliverScheduledRemote(topic, index, batch), nil
	}
	return b.appendScheduledLocal(topic, index, batch)
}

// appendScheduledLocal appends a due batch to a partition led here.
func (b *Broker) appendScheduledLocal(topic string, index int32, batch []byte) (func() error, error) {
	p, err := b.Partition(topic, index)
	if err != nil {
		return nil, err
	}
	if err := p.CheckMinISR(); err != nil {
		return nil, err
	}
	res, err := p.Append(batch)
	if err != nil {
		if code := kerrCode(err); code == kerr.MessageTooLarge.Code || code == kerr.InvalidRecord.Code || code == kerr.CorruptMessage.Code {
			// The target refuses it for good (a smaller max.message.bytes,
			// a compacted topic and a record without a key).
			return nil, fmt.Errorf("%w: %s-%d refuses it: %v", schedule.ErrTargetGone, topic, index, err)
		}
		return nil, err
	}
	return func() error {
		if err := p.Sync(res.LastOffset + 1); err != nil {
			return err
		}
		return p.WaitReplicated(res.LastOffset+1, scheduledDeliveryTimeout)
	}, nil
}

// scheduledLog gives the scheduler its partition of __scheduled.
type scheduledLog struct{ p *Partition }

func (l scheduledLog) Append(batch []byte) (int64, error) {
	res, err := l.p.Append(batch)
	if err != nil {
		return 0, err
	}
	return res.LastOffset + 1, nil
}

func (l scheduledLog) Sync(upTo int64) error {
	if err := l.p.Sync(upTo); err != nil {
		return err
	}
	return l.p.WaitReplicated(upTo, scheduledDeliveryTimeout)
}

func (l scheduledLog) Read(offset int64, maxBytes int) ([]byte, error) {
	s, err := l.p.log.ReadBelow(offset, maxBytes, true, l.p.HighWatermark())
	if err != nil {
		return nil, err
	}
	return s.ReadAll()
}

func (l scheduledLog) StartOffset() int64   { return l.p.log.StartOffset() }
func (l scheduledLog) HighWatermark() int64 { return l.p.HighWatermark() }
