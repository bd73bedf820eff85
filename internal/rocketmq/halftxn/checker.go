package halftxn

import (
	"errors"
	"slices"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// Start runs CheckOnce every Interval until Close.
func (s *Store) Start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.CheckOnce()
			}
		}
	}()
}

// Close stops the checker started by Start.
func (s *Store) Close() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.stop = nil
}

// CheckOnce checks back every half message due at Now: see doc.go.
func (s *Store) CheckOnce() {
	now := s.opts.Now()
	var due []*entry
	s.mu.Lock()
	for _, e := range s.pending {
		last := e.Stored
		if e.LastCheck.After(last) {
			last = e.LastCheck
		}
		if e.resolving || now.Sub(last) < s.opts.Interval {
			continue
		}
		e.resolving = true
		due = append(due, e)
	}
	s.mu.Unlock()

	var expired, toCheck []*entry
	for _, e := range due {
		if e.Checks >= s.opts.MaxChecks {
			expired = append(expired, e)
		} else {
			toCheck = append(toCheck, e)
		}
	}
	// One batch and one fsync per chunk, not per half message: a pass over
	// many pending half messages costs a few fsyncs.
	for chunk := range slices.Chunk(expired, passChunk) {
		s.rollBackExpired(chunk)
	}
	for chunk := range slices.Chunk(toCheck, passChunk) {
		s.checkAll(chunk, now)
	}
}

// passChunk bounds the records of one batch a checker pass writes.
const passChunk = 4096

// rollBackExpired rolls back claimed half messages that used up their
// checks.
func (s *Store) rollBackExpired(es []*entry) {
	recs := make([]log.KeyValue, 0, 2*len(es))
	for _, e := range es {
		recs = append(recs, log.KeyValue{Key: recordKey(kindHalf, e.token)}, log.KeyValue{Key: recordKey(kindCheck, e.token)})
	}
	err := s.appendSync(recs)
	s.mu.Lock()
	for _, e := range es {
		if err != nil {
			e.resolving = false
			continue
		}
		delete(s.pending, e.ID)
		delete(s.byToken, e.token)
	}
	s.mu.Unlock()
	for _, e := range es {
		if err != nil {
			s.lg.Error("cannot roll back an unresolved half message; retried next interval", "id", e.ID, "topic", e.Topic, "group", e.Group, "msgId", e.UniqKey, "err", err)
			continue
		}
		s.lg.Warn("half message rolled back: its producer group never resolved it",
			"id", e.ID, "topic", e.Topic, "partition", e.Partition, "group", e.Group, "msgId", e.UniqKey, "checks", e.Checks)
	}
}

// checkAll counts one more check of each claimed half message, durably,
// then sends the checks: a restart must not hand out more than MaxChecks.
func (s *Store) checkAll(es []*entry, now time.Time) {
	recs := make([]log.KeyValue, 0, len(es))
	for _, e := range es {
		recs = append(recs, log.KeyValue{Key: recordKey(kindCheck, e.token), Value: encodeChecks(e.Checks+1, now.UnixMilli())})
	}
	err := s.appendSync(recs)
	halves := make([]Half, len(es))
	s.mu.Lock()
	for i, e := range es {
		if err == nil {
			e.Checks, e.LastCheck = e.Checks+1, now
		}
		e.resolving = false
		halves[i] = e.Half
	}
	s.mu.Unlock()
	if err != nil {
		s.lg.Error("cannot record check-backs; retried next interval", "halfMessages", len(es), "err", err)
		return
	}
	for _, h := range halves {
		s.sendCheck(h)
	}
}

func (s *Store) appendSync(recs []log.KeyValue) error {
	next, err := s.log.Append(log.NewBatch(recs, s.opts.Now()))
	if err != nil {
		return err
	}
	return s.log.Sync(next)
}

// sendCheck asks h's producer group, logging what happened.
func (s *Store) sendCheck(h Half) {
	checks := h.Checks
	switch err := s.opts.Check(h); {
	case errors.Is(err, ErrNoProducer):
		s.lg.Warn("half message not checked back: no live producer in its group; retried next interval",
			"id", h.ID, "topic", h.Topic, "group", h.Group, "msgId", h.UniqKey, "checks", checks, "maxChecks", s.opts.MaxChecks)
	case err != nil:
		s.lg.Warn("check-back failed; retried next interval", "id", h.ID, "group", h.Group, "checks", checks, "err", err)
	default:
		s.lg.Debug("half message checked back", "id", h.ID, "group", h.Group, "checks", checks)
	}
}
