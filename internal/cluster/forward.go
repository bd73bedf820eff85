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
// when the FSM refused it, or Err when it was not committed at all.
type forwardReply struct {
	Index    uint64 `json:"index"`
	Rejected string `json:"rejected,omitempty"`
	Err      string `json:"err,omitempty"`
}

// maxForwardBytes bounds one forwarded proposal.
const maxForwardBytes = 16 << 20

// forward sends a proposal to the leader at addr.
func forward(addr string, data []byte, timeout time.Duration) (uint64, error, error) {
	c, err := dialKind(addr, connForward, timeout)
	if err != nil {
		return 0, nil, err
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
	if rep.Err != "" {
		return 0, nil, fmt.Errorf("controller at %s: %s", addr, rep.Err)
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
	if s.raft.State() != raft.Leader {
		rep.Err = raft.ErrNotLeader.Error()
	} else {
		index, rejected, err := s.applyAsLeader(req.Records, s.cfg.ProposeTimeout)
		rep.Index = index
		switch {
		case err != nil:
			rep.Err = err.Error()
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
