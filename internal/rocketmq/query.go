package rocketmq

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/msgindex"
	"github.com/ferry-mq/ferry/internal/rocketmq/msgext"
)

// The message index (issue 10, item 8): every local partition of a
// non-internal topic is tailed by internal/msgindex, which indexes each
// committed record under its key's space-separated words (RocketMQ's KEYS)
// and its UNIQ_KEY header, in files under <data dir>/__rmq_index (format in
// msgindex's doc.go). Producing never waits for it. QUERY_MESSAGE (12)
// looks keys up there; VIEW_MESSAGE_BY_ID (33) needs no index (the message
// id names its partition and offset, see doc.go).

// indexDirName is the index's directory in the data dir (no "-<n>" suffix,
// so the broker's data-dir sweep never takes it for a partition).
const indexDirName = "__rmq_index"

func (s *Server) startMessageIndex() {
	b := s.broker
	s.msgIndex = msgindex.NewManager(msgindex.ManagerOptions{
		Dir:        filepath.Join(b.Config().DataDir, indexDirName),
		Logger:     s.log.With("component", "rocketmq-index"),
		Partitions: s.indexedPartitions,
		Decode:     decodeStored,
	})
	s.msgIndex.Start()
}

// indexedPartitions are the local replicas of every topic but the
// internal ones.
func (s *Server) indexedPartitions() []msgindex.PartitionRef {
	img := s.broker.Image()
	var refs []msgindex.PartitionRef
	for _, p := range s.broker.LocalReplicas() {
		if strings.HasPrefix(p.Topic, "__") {
			continue
		}
		t, ok := img.Topic(p.Topic)
		if !ok {
			continue
		}
		refs = append(refs, msgindex.PartitionRef{Topic: p.Topic, Index: p.Index, TopicID: t.ID, Source: partitionSource{p}})
	}
	return refs
}

// partitionSource is a msgindex.Source: a partition's committed records.
type partitionSource struct{ p *broker.Partition }

func (ps partitionSource) StartOffset() int64       { return ps.p.Log().StartOffset() }
func (ps partitionSource) HighWatermark() int64     { return ps.p.HighWatermark() }
func (ps partitionSource) Watch(ch chan struct{})   { ps.p.Watch(ch) }
func (ps partitionSource) Unwatch(ch chan struct{}) { ps.p.Unwatch(ch) }

func (ps partitionSource) Read(offset int64, maxBytes int) ([]byte, error) {
	sl, err := ps.p.Log().Read(offset, maxBytes, true)
	if err != nil {
		return nil, err
	}
	return sl.ReadAll()
}

// decodeStored is the index's DecodeFunc. Nothing is copied or allocated
// per record: a record's bytes are valid only during fn, as the
// DecodeFunc contract says.
func decodeStored(data []byte, fn func(msgindex.Record) error) error {
	_, err := log.EachStoredRecord(data, func(_ log.BatchHeader, r log.StoredRecord) error {
		return fn(msgindex.Record{Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, EachHeader: r.EachHeader})
	})
	return err
}

// encodeStored reads the record at offset of p and appends it to dst as a
// MessageExt entry; ok is false when the log no longer holds it.
func (s *Server) encodeStored(dst []byte, p *broker.Partition, offset int64) (out []byte, ok bool, err error) {
	if offset < p.Log().StartOffset() || offset >= p.HighWatermark() {
		return dst, false, nil
	}
	sl, err := p.Log().Read(offset, 1, true)
	if err != nil {
		return dst, false, err
	}
	data, err := sl.ReadAll()
	if err != nil {
		return dst, false, err
	}
	queueID := int32(-1)
	if t, found := s.broker.Image().Topic(p.Topic); found {
		queueID = s.QueueID(t, p.Index)
	}
	q := &msgext.Queue{
		Topic: RocketTopic(p.Topic), QueueID: queueID, StoreHost: storeAddrPort(s.advertised),
		CommitLogOffset: func(o int64) int64 { return CommitLogOffset(p.Topic, p.Index, o) },
	}
	if err := q.Check(); err != nil {
		return dst, false, err
	}
	_, err = log.EachStoredRecord(data, func(_ log.BatchHeader, r log.StoredRecord) error {
		if r.Offset == offset {
			dst, ok = msgext.Append(dst, q, r), true
		}
		return nil
	})
	if err != nil {
		return dst, false, fmt.Errorf("%s-%d at %d: %w", p.Topic, p.Index, offset, err)
	}
	return dst, ok, nil
}
