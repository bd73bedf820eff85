package halftxn

import (
	"errors"
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

	for _, e := range due {
		if e.Checks >= s.opts.MaxChecks {
			err := s.resolve(e, Rollback)
			if err != nil {
				s.lg.Error("cannot roll back an unresolved half message", "id", e.ID, "topic", e.Topic, "group", e.Group, "msgId", e.UniqKey, "err", err)
				continue
			}
			s.lg.Warn("half message rolled back: its producer group never resolved it",
				"id", e.ID, "topic", e.Topic, "partition", e.Partition, "group", e.Group, "msgId", e.UniqKey, "checks", e.Checks)
			continue
		}
		s.check(e, now)
	}
}

// check counts and sends one check-back of a claimed half message.
func (s *Store) check(e *entry, now time.Time) {
	checks := e.Checks + 1
	next, err := s.log.Append(log.NewBatch([]log.KeyValue{{Key: recordKey(kindCheck, e.token), Value: encodeChecks(checks, now.UnixMilli())}}, now))
	if err == nil {
		// Durable before the check goes out: a restart must not hand
		// out more than MaxChecks.
		err = s.log.Sync(next)
	}
	s.mu.Lock()
	if err == nil {
		e.Checks, e.LastCheck = checks, now
	}
	e.resolving = false
	h := e.Half
	s.mu.Unlock()
	if err != nil {
		s.lg.Error("cannot record a check-back; retried next interval", "id", e.ID, "err", err)
		return
	}
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
