package cluster

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// leaseLoop runs on every node and acts while it is the active controller:
// each tick it fences the brokers whose lease ran out.
func (s *Store) leaseLoop() {
	defer s.wg.Done()
	tick := s.cfg.HeartbeatInterval / 2
	if tick > 100*time.Millisecond {
		tick = 100 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if !s.inOffice() {
			continue
		}
		for _, node := range s.leases.Expired(s.Image(), s.cfg.Now()) {
			s.fence(node)
		}
	}
}

// inOffice reports whether this node is the active controller. A node
// that takes office (leads a new Raft term) first gives every broker a
// full session: last-heard times are not in the metadata log, and the
// old controller's are lost with it.
func (s *Store) inOffice() bool {
	s.officeMu.Lock()
	defer s.officeMu.Unlock()
	if !s.raftStarted() || s.raft.State() != raft.Leader {
		s.officeTerm = ""
		return false
	}
	if term := s.raft.Stats()["term"]; term != s.officeTerm {
		s.officeTerm = term
		s.leases.TakeOffice(s.cfg.Now())
		s.log.Info("this node is the active controller; every broker has a full session before any is fenced", "node", s.cfg.NodeID, "term", term)
	}
	return true
}

// fence fences node if its lease still has run out when the proposal is
// built (a heartbeat may have come in since).
func (s *Store) fence(node int32) {
	moved := -1 // stays -1 when nothing was written
	_, err := s.Update(func(img *meta.Image) ([]meta.Record, error) {
		b, ok := img.Broker(node)
		if !ok || b.Fenced || s.leases.Live(node, b.Incarnation, s.cfg.Now()) {
			return nil, meta.ErrNoChange
		}
		recs := controller.Fence(img, node, s.policy)
		moved = len(recs) - 1
		return recs, nil
	})
	if err != nil {
		s.log.Warn("cannot fence a broker that missed its lease", "node", node, "err", err)
		return
	}
	if moved >= 0 {
		s.log.Warn("fenced a broker that missed its lease", "node", node, "session_timeout", s.cfg.SessionTimeout, "partitions_changed", moved)
	}
}
