package rocketmq

import (
	"bytes"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/schedule"
)

// findByCommitLogOffset finds the record a commit-log offset names among
// the partitions of the candidate topics (RocketMQ names). The offset's
// hash part names the partition (msgid.go); a hash that two partitions
// share is resolved by trying each.
func (s *Server) findByCommitLogOffset(clo int64, candidates ...string) (*storedMessage, error) {
	hash, offset := uint64(clo)>>offsetBits, clo&(1<<offsetBits-1)
	for _, rocketTopic := range candidates {
		name, err := FerryTopic(rocketTopic)
		if err != nil {
			continue
		}
		t, ok := s.broker.Image().Topic(name)
		if !ok {
			continue
		}
		for p := int32(0); p < t.Partitions; p++ {
			if partitionHash(name, p) != hash {
				continue
			}
			part, err := s.broker.Partition(name, p)
			if err != nil {
				continue
			}
			if m, err := readOne(part, offset); err == nil {
				m.topic, m.partition = name, p
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("no message at commit-log offset %d in %v", clo, candidates)
}

// readOne reads the record at offset of part.
func readOne(part *broker.Partition, offset int64) (*storedMessage, error) {
	slice, err := part.Log().ReadBelow(offset, 1, true, part.HighWatermark())
	if err != nil {
		return nil, err
	}
	data, err := slice.ReadAll()
	if err != nil {
		return nil, err
	}
	var found *storedMessage
	_, err = log.EachStoredRecord(data, func(_ log.BatchHeader, r log.StoredRecord) error {
		if r.Offset != offset {
			return nil
		}
		m := &storedMessage{offset: r.Offset, timestamp: r.Timestamp, key: bytes.Clone(r.Key), value: bytes.Clone(r.Value)}
		r.EachHeader(func(k, v []byte) bool {
			m.headers = append(m.headers, kmsg.Header{Key: string(k), Value: bytes.Clone(v)})
			return true
		})
		found = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("offset %d holds no record", offset)
	}
	return found, nil
}

// storeRetry writes a sent-back message to partition 0 of (Ferry) topic:
// through the scheduler, due after delay, or at once without one (a dead
// letter; then this node must lead the partition). wait, run off the read
// goroutine, returns once it is durable.
func (s *Server) storeRetry(topic string, rec log.Record, delay time.Duration) (func() error, error) {
	if delay <= 0 {
		part, err := s.broker.Partition(topic, 0)
		if err != nil {
			return nil, err
		}
		_, wait, err := s.Store(part, []log.Record{rec})
		return wait, err
	}
	_, wait, err := s.broker.StoreScheduled([]schedule.Message{{
		Topic: topic, Partition: 0, Key: rec.Key, Value: rec.Value, Headers: rec.Headers,
		Timestamp: time.UnixMilli(rec.Timestamp), DeliverAt: time.Now().Add(delay),
	}}, nil)
	return wait, err
}
