package schedule

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ferry-mq/ferry/internal/log"
)

// maxTargetBatch bounds the bytes of one delivery batch, well under the
// default max.message.bytes of a target topic.
const maxTargetBatch = 512 << 10

// decodedBatch caches the last batch read from __scheduled: messages due
// together were usually scheduled together.
type decodedBatch struct {
	first, last int64
	recs        []log.Record
}

type target struct {
	topic     string
	partition int32
}

type dueMessage struct {
	p   pending
	msg Message
}

// deliverDue delivers, cancels or drops every loaded message that is due.
func (s *Scheduler) deliverDue() error {
	for {
		now := s.now().UnixMilli()
		var batch []pending
		for len(batch) < s.cfg.MaxDeliverBatch {
			p, ok := s.due.peek()
			if !ok || p.due > now {
				break
			}
			s.due.pop()
			if _, live := s.loaded[s.ix.bucketOf(p.deliverAt)][p.id]; live {
				batch = append(batch, p)
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.deliverBatch(batch); err != nil {
			return err
		}
	}
}

// deliverBatch appends due messages to their targets, grouped per target
// partition in due order, then writes the tombstones of those that are done.
func (s *Scheduler) deliverBatch(batch []pending) error {
	var done []pending
	var targets []target
	byTarget := map[target][]dueMessage{}
	var cancelled, dropped int64
	for _, p := range batch {
		msg, found, err := s.readMessage(p.offset)
		if err != nil && !errors.Is(err, errMalformed) {
			s.retryLater(batch)
			return err
		}
		switch {
		case err != nil:
			s.logger.Error("scheduled message unreadable; dropped", "offset", p.offset, "err", err)
			dropped++
			done = append(done, p)
		case !found:
			done = append(done, p) // compacted away: already done
		case msg.Key != nil && s.cancels[cancelMatch(msg.Topic, msg.Key)] > p.offset:
			cancelled++
			done = append(done, p)
		default:
			t := target{msg.Topic, msg.Partition}
			if _, ok := byTarget[t]; !ok {
				targets = append(targets, t)
			}
			byTarget[t] = append(byTarget[t], dueMessage{p, msg})
		}
	}
	var delivered int64
	for _, t := range targets {
		ok, gone := s.deliverTo(t, byTarget[t])
		delivered += int64(len(ok))
		dropped += int64(len(gone))
		done = append(done, ok...)
		done = append(done, gone...)
	}
	s.count(func(st *Stats) {
		st.Delivered += delivered
		st.Cancelled += cancelled
		st.Dropped += dropped
	})
	return s.writeDone(done)
}

// deliverTo appends msgs to one target in batches of at most
// maxTargetBatch bytes. It returns the messages delivered and those
// dropped; the rest are due again after the back-off.
func (s *Scheduler) deliverTo(t target, msgs []dueMessage) (delivered, gone []pending) {
	nowMs := s.now().UnixMilli()
	for start := 0; start < len(msgs); {
		end, size := start, 0
		recs := make([]log.Record, 0, min(len(msgs)-start, 256))
		for end < len(msgs) && (end == start || size+recordSize(&msgs[end].msg) <= maxTargetBatch) {
			m := &msgs[end].msg
			ts := nowMs
			if !m.Timestamp.IsZero() {
				ts = m.Timestamp.UnixMilli()
			}
			recs = append(recs, log.Record{Timestamp: ts, Key: m.Key, Value: m.Value, Headers: m.Headers})
			size += recordSize(m)
			end++
		}
		err := s.deliver(t.topic, t.partition, log.NewRecordBatch(recs))
		switch {
		case err == nil:
			for _, dm := range msgs[start:end] {
				delivered = append(delivered, dm.p)
			}
		case errors.Is(err, ErrTargetGone):
			s.logger.Warn("scheduled messages dropped: target gone", "topic", t.topic, "partition", t.partition, "messages", end-start, "err", err)
			for _, dm := range msgs[start:end] {
				gone = append(gone, dm.p)
			}
		default:
			s.logger.Warn("scheduled delivery failed; retrying", "topic", t.topic, "partition", t.partition, "messages", end-start, "err", err)
			for _, dm := range msgs[start:end] {
				dm.p.due = nowMs + s.cfg.RetryBackoff.Milliseconds()
				s.due.push(dm.p)
			}
		}
		start = end
	}
	return delivered, gone
}

func recordSize(m *Message) int {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 8 + len(h.Key) + len(h.Value)
	}
	return n
}

// retryLater puts messages back after a failure that stops the round.
func (s *Scheduler) retryLater(batch []pending) {
	due := s.now().Add(s.cfg.RetryBackoff).UnixMilli()
	for _, p := range batch {
		p.due = due
		s.due.push(p)
	}
}

// writeDone appends the tombstones of done messages and waits for them.
// If that fails the messages stay pending on disk and are delivered again
// after a restart (at-least-once).
func (s *Scheduler) writeDone(done []pending) error {
	if len(done) == 0 {
		return nil
	}
	recs := make([]log.KeyValue, len(done))
	for i, p := range done {
		recs[i] = log.KeyValue{Key: messageKey(p.deliverAt, p.id)}
	}
	next, err := s.log.Append(log.NewBatch(recs, s.now()))
	if err == nil {
		err = s.log.Sync(next)
	}
	if err != nil {
		return fmt.Errorf("write %d delivery records to __scheduled: %w", len(done), err)
	}
	return nil
}

// readMessage reads the message at offset of __scheduled; found is false
// if compaction removed it (it was done).
func (s *Scheduler) readMessage(offset int64) (Message, bool, error) {
	c := &s.cache
	if len(c.recs) == 0 || offset < c.first || offset > c.last {
		data, err := s.log.Read(offset, 1)
		if err != nil {
			if errors.Is(err, log.ErrOffsetOutOfRange) {
				return Message{}, false, nil
			}
			return Message{}, false, err
		}
		var first []byte
		_ = log.EachBatch(data, func(b []byte) error {
			first = b
			return errStopWalk
		})
		if first == nil {
			return Message{}, false, nil
		}
		h, recs, err := log.DecodeRecords(first)
		if err != nil {
			return Message{}, false, fmt.Errorf("%w: batch at %d: %v", errMalformed, h.BaseOffset, err)
		}
		*c = decodedBatch{first: h.BaseOffset, last: h.LastOffset(), recs: recs}
		if offset < c.first {
			return Message{}, false, nil
		}
	}
	i := sort.Search(len(c.recs), func(i int) bool { return c.recs[i].Offset >= offset })
	if i == len(c.recs) || c.recs[i].Offset != offset || c.recs[i].Value == nil {
		return Message{}, false, nil
	}
	m, err := decodeMessage(c.recs[i].Value)
	return m, true, err
}

var errStopWalk = errors.New("stop")
