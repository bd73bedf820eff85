package schedule

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// maxTargetBatch bounds the bytes of one delivery batch, well under the
// default max.message.bytes of a target topic.
const maxTargetBatch = 512 << 10

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
	for s.inflight < maxInflightRounds {
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
	return nil
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
	// Append to every target now, in due order (a target's appends keep
	// their order across rounds); the waits for durability run off this
	// goroutine, so the next round does not wait for this one's fsyncs.
	r := &round{cancelled: cancelled, dropped: dropped, done: done}
	for _, t := range targets {
		s.appendTo(t, byTarget[t], r)
	}
	if s.completions == nil { // not started: tests drive step by hand
		s.finish(r)
		return s.complete(r)
	}
	s.inflight++
	s.roundsWG.Add(1)
	go func() {
		defer s.roundsWG.Done()
		s.finish(r)
		s.completions <- r
	}()
	return nil
}

// round is one delivery round: what it appended and is waiting for.
type round struct {
	waits     []roundWait
	done      []pending // delivered (once durable), cancelled, dropped
	retry     []pending
	cancelled int64
	dropped   int64
	delivered int64
	err       error // writing the tombstones failed
}

// roundWait is the durability wait of one appended batch.
type roundWait struct {
	wait func() error
	msgs []pending
	t    target
}

// appendTo appends msgs to one target in batches of at most maxTargetBatch
// bytes, noting in r what to wait for, what is gone and what to retry.
func (s *Scheduler) appendTo(t target, msgs []dueMessage, r *round) {
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
		ps := make([]pending, 0, end-start)
		for _, dm := range msgs[start:end] {
			ps = append(ps, dm.p)
		}
		wait, err := s.deliver(t.topic, t.partition, log.NewRecordBatch(recs))
		switch {
		case err == nil:
			r.waits = append(r.waits, roundWait{wait: wait, msgs: ps, t: t})
		case errors.Is(err, ErrTargetGone):
			s.logger.Warn("scheduled messages dropped: target gone", "topic", t.topic, "partition", t.partition, "messages", len(ps), "err", err)
			r.dropped += int64(len(ps))
			r.done = append(r.done, ps...)
		default:
			s.warnRetry(t, len(ps), err)
			r.retry = append(r.retry, ps...)
		}
		start = end
	}
}

// retryLogEvery bounds the warnings about one target that keeps failing
// (a partition led by another node is retried every RetryBackoff).
const retryLogEvery = time.Minute

// warnRetry logs a failed delivery, at most once a minute per target.
func (s *Scheduler) warnRetry(t target, messages int, err error) {
	now := s.now()
	if last, ok := s.retryLogged[t]; ok && now.Sub(last) < retryLogEvery {
		return
	}
	if s.retryLogged == nil {
		s.retryLogged = map[target]time.Time{}
	}
	s.retryLogged[t] = now
	s.logger.Warn("scheduled delivery failed; retrying (logged at most once a minute per partition)", "topic", t.topic, "partition", t.partition, "messages", messages, "err", err)
}

// finish waits for a round's appends to be durable (in parallel: targets
// are separate partitions, so a round costs about one fsync) and then
// appends the tombstones of what is done. It touches no scheduler state
// but the log, the logger and the clock, so it may run on any goroutine.
func (s *Scheduler) finish(r *round) {
	errs := make([]error, len(r.waits))
	var wg sync.WaitGroup
	for i := range r.waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.waits[i].wait()
		}()
	}
	wg.Wait()
	for i, w := range r.waits {
		if errs[i] != nil {
			// Appended but maybe not durable: deliver again (at-least-once).
			s.logger.Warn("scheduled delivery not acknowledged; retrying", "topic", w.t.topic, "partition", w.t.partition, "messages", len(w.msgs), "err", errs[i])
			r.retry = append(r.retry, w.msgs...)
			continue
		}
		r.delivered += int64(len(w.msgs))
		r.done = append(r.done, w.msgs...)
		if s.onLate != nil {
			now := s.now().UnixMilli()
			for _, p := range w.msgs {
				s.onLate(time.Duration(now-p.deliverAt) * time.Millisecond)
			}
		}
	}
	r.err = s.writeDone(r.done)
}

// complete takes a finished round back on the scheduler's goroutine.
func (s *Scheduler) complete(r *round) error {
	due := s.now().Add(s.cfg.RetryBackoff).UnixMilli()
	for _, p := range r.retry {
		p.due = due
		s.due.push(p)
	}
	s.count(func(st *Stats) {
		st.Delivered += r.delivered
		st.Cancelled += r.cancelled
		st.Dropped += r.dropped
	})
	return r.err
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

// writeDone appends the tombstones of done messages. Their fsync runs in
// the background (the syncer) so that the next round does not wait for
// it: until it is durable a crash delivers those messages again
// (at-least-once), as it would if the crash came just before the append.
func (s *Scheduler) writeDone(done []pending) error {
	if len(done) == 0 {
		return nil
	}
	recs := make([]log.KeyValue, len(done))
	for i, p := range done {
		recs[i] = log.KeyValue{Key: messageKey(p.deliverAt, p.id)}
	}
	next, err := s.log.Append(log.NewBatch(recs, s.now()))
	if err != nil {
		return fmt.Errorf("write %d delivery records to __scheduled: %w", len(done), err)
	}
	if s.syncReq == nil { // not started: tests drive step by hand
		return s.log.Sync(next)
	}
	for {
		select {
		case s.syncReq <- next:
			return nil
		case older := <-s.syncReq:
			next = max(next, older)
		}
	}
}

// syncer makes tombstones durable, one fsync for all appended meanwhile.
func (s *Scheduler) syncer(done chan<- struct{}) {
	defer close(done)
	for upTo := range s.syncReq {
		if err := s.log.Sync(upTo); err != nil {
			s.logger.Warn("delivery records of __scheduled not made durable; those messages may be delivered again after a restart", "err", err)
		}
	}
}

// readMessage reads the message at offset of __scheduled; found is false
// if compaction removed it (it was done).
func (s *Scheduler) readMessage(offset int64) (Message, bool, error) {
	c := s.cache.get(offset)
	if c == nil {
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
		c = &decodedBatch{first: h.BaseOffset, last: h.LastOffset(), size: len(first), recs: recs}
		s.cache.put(c)
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
