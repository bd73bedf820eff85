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
	var lastRebalance time.Time
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
		if len(controller.ElectOffline(s.Image(), s.policy)) > 0 {
			s.electOffline()
		}
		if len(controller.CompleteReassignments(s.Image())) > 0 {
			s.proposeEach("complete reassignments", func(img *meta.Image) []meta.Record { return controller.CompleteReassignments(img) })
		}
		if every := s.cfg.LeaderRebalanceInterval; every > 0 {
			if now := s.cfg.Now(); now.Sub(lastRebalance) >= every {
				lastRebalance = now
				s.proposeEach("move leadership back to preferred replicas", func(img *meta.Image) []meta.Record {
					return controller.RebalanceLeaders(img, s.cfg.LeaderImbalancePct, nil)
				})
			}
		}
	}
}

// proposeEach commits the records decide returns on the newest image, if
// any, and logs what it did.
func (s *Store) proposeEach(what string, decide func(*meta.Image) []meta.Record) {
	n := 0
	_, err := s.Update(func(img *meta.Image) ([]meta.Record, error) {
		recs := decide(img)
		if n = len(recs); n == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	if err != nil {
		s.log.Warn("controller could not "+what, "err", err)
		return
	}
	if n > 0 {
		s.log.Info("controller: "+what, "partitions", n)
	}
}

// electOffline gives offline partitions a leader where one may lead now
// (an unclean election just allowed, for one).
func (s *Store) electOffline() {
	n := 0
	_, err := s.Update(func(img *meta.Image) ([]meta.Record, error) {
		recs := controller.ElectOffline(img, s.policy)
		if n = len(recs); n == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	if err != nil {
		s.log.Warn("cannot elect leaders of offline partitions", "err", err)
		return
	}
	if n > 0 {
		s.log.Warn("elected leaders of offline partitions", "partitions", n)
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
	s.fenceIf(node, "missed its lease", func(b meta.BrokerInfo) bool {
		return !s.leases.Live(node, b.Incarnation, s.cfg.Now())
	})
}

// fenceIf fences node, unless it is fenced already or ok says no on the
// image the proposal is built on.
func (s *Store) fenceIf(node int32, why string, ok func(meta.BrokerInfo) bool) error {
	moved := -1 // stays -1 when nothing was written
	_, err := s.Update(func(img *meta.Image) ([]meta.Record, error) {
		b, registered := img.Broker(node)
		if !registered || b.Fenced || !ok(b) {
			return nil, meta.ErrNoChange
		}
		recs := controller.Fence(img, node, s.policy)
		moved = len(recs) - 1
		return recs, nil
	})
	if err != nil {
		s.log.Warn("cannot fence a broker", "node", node, "reason", why, "err", err)
		return err
	}
	if moved >= 0 {
		s.log.Warn("fenced a broker", "node", node, "reason", why, "session_timeout", s.cfg.SessionTimeout, "partitions_changed", moved)
	}
	return nil
}
