package rocketmq

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/group"
	"github.com/ferry-mq/ferry/internal/rocketmq/filter"
)

// consumeState is what the consuming side of the front keeps between
// requests: compiled subscription filters, the last offset committed per
// queue (to skip rewriting unchanged ones), the orderly consumers' queue
// locks and recently pulled batches, decompressed. None of it needs to survive a restart: filters come back
// with the next heartbeat, offsets live in the group coordinator and
// locks lapse anyway.
type consumeState struct {
	locks   *queueLocks
	batches *batchCache // decompressed batches recently pulled

	mu sync.Mutex
	// filters caches compiled subscriptions by expression type and text.
	// REQUIRES: mu held.
	filters map[filterKey]*filter.Filter
	// committed is the last offset this node committed per group queue.
	// REQUIRES: mu held.
	committed map[committedKey]int64
}

// maxCachedFilters bounds the filter cache; past it the cache starts over.
const maxCachedFilters = 4096

type filterKey struct{ typ, expr string }

type committedKey struct {
	group, topic string
	partition    int32
}

func newConsumeState(now func() time.Time, lockTTL time.Duration) *consumeState {
	if lockTTL <= 0 {
		lockTTL = config.DefaultQueueLockTTL
	}
	return &consumeState{
		locks:     newQueueLocks(now, lockTTL),
		batches:   newBatchCache(batchCacheBytes),
		filters:   map[filterKey]*filter.Filter{},
		committed: map[committedKey]int64{},
	}
}

// compile returns the compiled filter of a subscription, from the cache
// when it was seen before.
func (cs *consumeState) compile(typ, expr string) (*filter.Filter, error) {
	k := filterKey{strings.ToUpper(typ), expr}
	cs.mu.Lock()
	f, ok := cs.filters[k]
	cs.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := filter.Compile(typ, expr)
	if err != nil {
		return nil, err
	}
	cs.mu.Lock()
	if len(cs.filters) >= maxCachedFilters {
		clear(cs.filters)
	}
	cs.filters[k] = f
	cs.mu.Unlock()
	return f, nil
}

// subscription finds the filter for group's pull of rocketTopic. A pull
// that carries its subscription (sysFlag bit 2) uses it; otherwise the one
// the group's clients registered with HEART_BEAT does (rocketmq-client-go
// push consumers never send theirs in the pull). No registered
// subscription means every message.
func (s *Server) subscription(group, rocketTopic string, sysFlag int32, typ, expr string) (*filter.Filter, error) {
	if sysFlag&pullFlagSubscription == 0 {
		typ, expr = "", "*"
		found := false
		for _, c := range s.clients.Consumers(group) {
			for _, sd := range c.Data.Subscriptions {
				if sd.Topic == rocketTopic {
					typ, expr, found = sd.ExpressionType, sd.SubString, true
					break
				}
			}
			if found {
				break
			}
		}
	}
	return s.consume.compile(typ, expr)
}

// coordinator returns the coordinator of group groupID when it runs on
// this node: on a cluster, the leader of the group's __consumer_offsets
// partition (offset requests reaching another node are forwarded to it
// first, offsets_forward.go).
func (s *Server) coordinator(groupID string) (*group.Coordinator, error) {
	coord, err := s.broker.GroupCoordinatorFor(groupID)
	if err != nil {
		return nil, fmt.Errorf("group %s: its coordinator is not on this node or not ready: %w", groupID, err)
	}
	return coord, nil
}

// committedOffset returns group's committed offset of (Ferry) topic's
// partition, -1 when none.
func (s *Server) committedOffset(group, topic string, partition int32) (int64, error) {
	coord, err := s.coordinator(group)
	if err != nil {
		return 0, err
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp := coord.FetchOffsets(req)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, err
			}
			return p.Offset, nil
		}
	}
	return -1, nil
}

// commitOffset stores group's offset of (Ferry) topic's partition in the
// group coordinator, as a client outside any Kafka group commits (so
// `ferry group describe` shows it with its lag). The commit is appended
// now, in call order; the returned wait blocks until it is durable and
// visible and reports how it went. An offset equal to the last one this
// node committed is not written again.
func (s *Server) commitOffset(group, topic string, partition int32, offset int64) (wait func() error) {
	k := committedKey{group, topic, partition}
	s.consume.mu.Lock()
	last, ok := s.consume.committed[k]
	s.consume.mu.Unlock()
	if ok && last == offset {
		return func() error { return nil }
	}
	coord, err := s.coordinator(group)
	if err != nil {
		return func() error { return err }
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 7
	req.Group = group
	req.Generation = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = partition, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	finish := coord.CommitOffsets(req)
	return func() error {
		resp := finish()
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("committing offset %d of %s[%d] for group %s: %w", offset, topic, partition, group, err)
				}
			}
		}
		s.consume.mu.Lock()
		s.consume.committed[k] = offset
		s.consume.mu.Unlock()
		return nil
	}
}
