package cluster

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// A heartbeat connection (connHeartbeat) carries one JSON request per line
// and one JSON reply per line, for as long as the broker keeps it open.
// Only the active controller accepts heartbeats; any voter answers a
// probe, which asks for the cluster id (and, from the leader, whether the
// node id is in use) before a node starts its Raft member.
type heartbeatRequest struct {
	Probe       bool   `json:"probe,omitempty"`
	NodeID      int32  `json:"node_id"`
	Addr        string `json:"addr,omitempty"`
	Incarnation string `json:"incarnation"`
}

type heartbeatReply struct {
	// NotLeader: send heartbeats to LeaderAddr (empty when unknown).
	NotLeader  bool   `json:"not_leader,omitempty"`
	LeaderAddr string `json:"leader_addr,omitempty"`
	ClusterID  string `json:"cluster_id,omitempty"`
	// Duplicate says another live process holds the node id.
	Duplicate string `json:"duplicate,omitempty"`
	Err       string `json:"err,omitempty"`
	// SessionTimeoutMs is the controller's --broker-session-timeout.
	SessionTimeoutMs int64 `json:"session_timeout_ms,omitempty"`
}

// maxHeartbeatLine bounds one request or reply.
const maxHeartbeatLine = 64 << 10

// heartbeatIdle closes a heartbeat connection silent this long.
const heartbeatIdle = time.Minute

func newIncarnation() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

func (s *Store) raftStarted() bool {
	select {
	case <-s.started:
		return true
	default:
		return false
	}
}

// serveHeartbeats answers the requests of one heartbeat connection.
func (s *Store) serveHeartbeats(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, maxHeartbeatLine)
	for {
		c.SetReadDeadline(time.Now().Add(heartbeatIdle))
		line, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				s.log.Warn("heartbeat request too large", "remote", c.RemoteAddr().String())
			}
			return
		}
		var req heartbeatRequest
		if err := json.Unmarshal(line, &req); err != nil {
			s.log.Warn("bad heartbeat request", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
		rep := s.handleHeartbeat(req)
		b, _ := json.Marshal(rep)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(append(b, '\n')); err != nil {
			return
		}
	}
}

// handleHeartbeat is the active controller's side of one heartbeat: it
// registers or unfences the broker when the image says so, and renews its
// lease.
func (s *Store) handleHeartbeat(req heartbeatRequest) heartbeatReply {
	rep := heartbeatReply{ClusterID: s.Image().ClusterID, SessionTimeoutMs: s.cfg.SessionTimeout.Milliseconds()}
	if !s.inOffice() {
		rep.NotLeader = true
		if s.raftStarted() {
			addr, _ := s.raft.LeaderWithID()
			rep.LeaderAddr = string(addr)
		}
		return rep
	}
	now := s.cfg.Now()
	reg := controller.Registration{NodeID: req.NodeID, Addr: req.Addr, Incarnation: req.Incarnation}
	if req.Probe {
		// A node about to start: is its id held by a live process?
		if b, ok := s.Image().Broker(req.NodeID); ok && !b.Fenced && b.Incarnation != "" && b.Incarnation != req.Incarnation &&
			s.leases.Live(req.NodeID, b.Incarnation, now) {
			rep.Duplicate = fmt.Sprintf("node %d is registered by a live process (at %s)", req.NodeID, b.Addr)
		}
		return rep
	}
	recs, err := controller.Heartbeat(s.Image(), reg, s.leases, now, s.policy)
	if err != nil {
		if errors.Is(err, controller.ErrDuplicateNode) {
			rep.Duplicate = err.Error()
		} else {
			rep.Err = err.Error()
		}
		return rep
	}
	// From here the registered incarnation (if another) counts as gone,
	// so the lease loop fences it rather than this one.
	s.leases.Heard(req.NodeID, req.Incarnation, now)
	if recs == nil {
		return rep
	}
	_, err = s.Update(func(img *meta.Image) ([]meta.Record, error) {
		recs, err := controller.Heartbeat(img, reg, s.leases, s.cfg.Now(), s.policy)
		if err == nil && recs == nil {
			return nil, meta.ErrNoChange
		}
		return recs, err
	})
	if err != nil {
		rep.Err = err.Error()
		if errors.Is(err, controller.ErrDuplicateNode) {
			rep.Err, rep.Duplicate = "", err.Error()
		}
		return rep
	}
	s.log.Info("broker registered", "node", req.NodeID, "addr", req.Addr, "incarnation", req.Incarnation)
	return rep
}

// heartbeater is a broker's side: it keeps one connection to the active
// controller and follows it when the leader changes.
type heartbeater struct {
	s      *Store
	req    heartbeatRequest
	conn   net.Conn
	r      *bufio.Reader
	target string // where to dial next; empty: the leader Raft knows, else the next voter
	next   int    // round robin over the voters
}

// send sends one heartbeat and returns the controller's reply.
func (h *heartbeater) send(timeout time.Duration) (heartbeatReply, error) {
	if h.conn == nil {
		addr := h.target
		if addr == "" && h.s.raftStarted() {
			a, _ := h.s.raft.LeaderWithID()
			addr = string(a)
		}
		if addr == "" {
			addr = h.s.cfg.Quorum[h.next%len(h.s.cfg.Quorum)].Addr
			h.next++
		}
		h.target = ""
		c, err := dialKind(h.s.cfg.Dial, addr, connHeartbeat, timeout)
		if err != nil {
			return heartbeatReply{}, err
		}
		h.conn, h.r = c, bufio.NewReaderSize(c, maxHeartbeatLine)
	}
	rep, err := roundTrip(h.conn, h.r, h.req, timeout)
	if err != nil {
		h.close()
		return rep, err
	}
	if rep.NotLeader {
		h.close()
		h.target = rep.LeaderAddr
		return rep, errNotLeader
	}
	return rep, nil
}

var errNotLeader = errors.New("not the active controller")

func roundTrip(c net.Conn, r *bufio.Reader, req heartbeatRequest, timeout time.Duration) (heartbeatReply, error) {
	var rep heartbeatReply
	b, _ := json.Marshal(req)
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(append(b, '\n')); err != nil {
		return rep, err
	}
	line, err := r.ReadSlice('\n')
	if err != nil {
		return rep, err
	}
	return rep, json.Unmarshal(line, &rep)
}

func (h *heartbeater) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn, h.r = nil, nil
	}
}

// ErrDuplicateNodeID refuses a process whose node id a live process holds.
var ErrDuplicateNodeID = errors.New("duplicate node id")

// duplicateWait is how long a refused node keeps asking before it gives
// up: a restarted process is refused until its predecessor's lease runs
// out (a session), and is then accepted; a second live process never is.
func duplicateWait(sessionMs int64) time.Duration {
	return 2*time.Duration(sessionMs)*time.Millisecond + time.Second
}

// Register registers this node's broker at its advertised Kafka address
// with the active controller, waits until this node's image holds the
// registration (so it holds everything committed before it), and keeps
// heartbeating until Close. It fails when the node id is in use by a live
// process, or no controller answers in time.
func (s *Store) Register(addr string, timeout time.Duration) error {
	h := &heartbeater{s: s, req: heartbeatRequest{NodeID: s.cfg.NodeID, Addr: addr, Incarnation: s.incarnation}}
	deadline := time.Now().Add(timeout)
	var dupSince time.Time
	var lastWarn time.Time
	for {
		rep, err := h.send(s.cfg.HeartbeatInterval + time.Second)
		switch {
		case err == nil && rep.Duplicate != "":
			if dupSince.IsZero() {
				dupSince = time.Now()
				s.log.Warn("the controller refuses this node id while another process holds it; waiting for that lease to run out", "node", s.cfg.NodeID, "reason", rep.Duplicate)
			}
			if time.Since(dupSince) > duplicateWait(rep.SessionTimeoutMs) {
				h.close()
				return fmt.Errorf("%w: %s: stop that process or start this one with another --node-id", ErrDuplicateNodeID, rep.Duplicate)
			}
		case err == nil && rep.Err == "":
			return s.registered(h, deadline)
		default:
			if err == nil {
				err = errors.New(rep.Err)
			}
			if time.Now().After(deadline) {
				h.close()
				return fmt.Errorf("%w: register node %d: %v", ErrNoController, s.cfg.NodeID, err)
			}
			if time.Since(lastWarn) > 5*time.Second && !errors.Is(err, errNotLeader) {
				lastWarn = time.Now()
				s.log.Warn("waiting for the active controller to register this node", "err", err)
			}
		}
		select {
		case <-s.stop:
			h.close()
			return errors.New("closed while registering")
		case <-time.After(s.cfg.HeartbeatInterval):
		}
	}
}

// registered waits for this node's image to hold the registration, then
// starts the heartbeat loop.
func (s *Store) registered(h *heartbeater, deadline time.Time) error {
	for {
		ch := s.Changed()
		if b, ok := s.Image().Broker(s.cfg.NodeID); ok && b.Incarnation == s.incarnation {
			break
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			h.close()
			return fmt.Errorf("node %d was registered but its image does not show it", s.cfg.NodeID)
		}
	}
	s.beats = h
	s.wg.Add(1)
	go s.heartbeatLoop(h)
	return nil
}

// heartbeatLoop sends a heartbeat every HeartbeatInterval until Close.
func (s *Store) heartbeatLoop(h *heartbeater) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	var failingSince time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		rep, err := h.send(s.cfg.HeartbeatInterval + time.Second)
		if errors.Is(err, errNotLeader) {
			rep, err = h.send(s.cfg.HeartbeatInterval + time.Second) // to the leader it named
		}
		if err == nil && rep.Duplicate != "" {
			s.log.Error("the controller refuses this node's heartbeats: another process registered its node id", "node", s.cfg.NodeID, "reason", rep.Duplicate)
			continue
		}
		if err == nil && rep.Err != "" {
			err = errors.New(rep.Err)
		}
		if err != nil {
			if failingSince.IsZero() {
				failingSince = time.Now()
			} else if time.Since(failingSince) > s.cfg.SessionTimeout {
				s.log.Warn("no heartbeat reached the active controller for a session; it may fence this broker", "err", err, "since", failingSince)
				failingSince = time.Now()
			}
			continue
		}
		failingSince = time.Time{}
	}
}
