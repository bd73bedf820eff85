package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// forwardRequest is a follower's proposal, sent to the leader.
type forwardRequest struct {
	Records json.RawMessage `json:"records"` // a JSON array of meta.Record
}

// forwardReply is the leader's answer: the entry's index, and Rejected
// when the FSM refused it, or Err when it may not have committed.
// NotApplied says the entry surely was not appended (the node was not the
// leader when it arrived), so the proposal may be sent again.
type forwardReply struct {
	Index      uint64 `json:"index"`
	Rejected   string `json:"rejected,omitempty"`
	Err        string `json:"err,omitempty"`
	NotApplied bool   `json:"not_applied,omitempty"`
}

// errNotSent marks a forward that surely did not reach the Raft log: the
// proposal may go again (to the new leader). Any other forward error
// leaves the outcome unknown, and proposing again could apply it twice.
var errNotSent = errors.New("proposal not appended")

// maxForwardBytes bounds one forwarded proposal.
const maxForwardBytes = 16 << 20

// forward sends a proposal to the leader at addr.
func forward(dial dialFunc, addr string, data []byte, timeout time.Duration) (uint64, error, error) {
	c, err := dialKind(dial, addr, connForward, timeout)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errNotSent, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(c).Encode(forwardRequest{Records: data}); err != nil {
		return 0, nil, err
	}
	var rep forwardReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return 0, nil, fmt.Errorf("forwarded proposal to %s: %w", addr, err)
	}
	if rep.NotApplied {
		return 0, nil, fmt.Errorf("%w: controller at %s: %s", errNotSent, addr, rep.Err)
	}
	if rep.Err != "" {
		return 0, nil, fmt.Errorf("controller at %s: %s (the change may or may not have been applied)", addr, rep.Err)
	}
	if rep.Rejected != "" {
		return rep.Index, rejection{errors.New(rep.Rejected)}, nil
	}
	return rep.Index, nil, nil
}

// serveForward commits one forwarded proposal, when this node leads.
func (s *Store) serveForward(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(s.cfg.ProposeTimeout + 5*time.Second))
	var req forwardRequest
	if err := json.NewDecoder(&limitedReader{c, maxForwardBytes}).Decode(&req); err != nil {
		s.log.Warn("bad forwarded metadata proposal", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	var rep forwardReply
	if !s.raftStarted() || s.raft.State() != raft.Leader {
		rep.Err, rep.NotApplied = raft.ErrNotLeader.Error(), true
	} else {
		index, rejected, err := s.applyAsLeader(req.Records, s.cfg.ProposeTimeout)
		rep.Index = index
		switch {
		case err != nil:
			rep.Err, rep.NotApplied = err.Error(), notAppended(err)
		case rejected != nil:
			rep.Rejected = rejected.Error()
		}
	}
	json.NewEncoder(c).Encode(rep)
}

// limitedReader fails past n bytes instead of reading on.
type limitedReader struct {
	c net.Conn
	n int
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("forwarded proposal is too large")
	}
	if len(p) > r.n {
		p = p[:r.n]
	}
	n, err := r.c.Read(p)
	r.n -= n
	return n, err
}
