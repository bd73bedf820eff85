package rocketmq

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/broker"
)

// On a cluster a RocketMQ client sends a queue's offset requests
// (QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET, the pull's commit flag)
// to the queue's broker, while the group's offsets live with its
// coordinator: the leader of the group's __consumer_offsets partition,
// often another node. That node forwards them over RocketMQ remoting to
// the coordinator's node, naming the partition itself (the queue id is
// only meaningful to the node that leads the queue) and marking the
// request forwarded, so that it is never forwarded again.

// Header fields of a forwarded offset request.
const (
	fieldFerryPartition = "ferryPartition" // the Ferry partition, replacing queueId
	fieldFerryForwarded = "ferryForwarded" // "1" on a forwarded request
)

// forwardTimeout bounds one forwarded offset request.
const forwardTimeout = 10 * time.Second

// coordinatorPeer returns the RocketMQ address of the node coordinating
// group, or local true when it is this node.
func (s *Server) coordinatorPeer(group string) (addr string, local bool, err error) {
	if !s.broker.Clustered() {
		return "", true, nil
	}
	info, err := s.broker.CoordinatorFor(broker.ConsumerOffsetsTopic, group)
	if err != nil {
		return "", false, fmt.Errorf("group %s has no coordinator now: %s", group, broker.ErrorMessage(err))
	}
	if info.NodeID == s.broker.Config().NodeID {
		return "", true, nil
	}
	addr = s.peerAddr(info)
	if addr == "" {
		return "", false, fmt.Errorf("group %s: the RocketMQ address of its coordinator, node %d, is unknown", group, info.NodeID)
	}
	return addr, false, nil
}

// forwardOffsetRequest sends an offset request for (Ferry) partition of
// the request's topic to the coordinator's node at addr and returns its
// answer, re-addressed to req.
func (s *Server) forwardOffsetRequest(addr string, req *Command, partition int32) *Command {
	fwd := &Command{Code: req.Code, Language: languageGo, Version: brokerVersion, Serialize: SerializeJSON, ExtFields: map[string]string{}}
	for k, v := range req.ExtFields {
		fwd.ExtFields[k] = v
	}
	fwd.ExtFields[fieldFerryPartition] = strconv.Itoa(int(partition))
	fwd.ExtFields[fieldFerryForwarded] = "1"
	resp, err := s.peers.call(addr, fwd)
	if err != nil {
		return errorResponse(req, ResSystemError, fmt.Sprintf("forwarding to the group's coordinator at %s: %v", addr, err))
	}
	out := Response(req)
	out.Code, out.Remark, out.ExtFields, out.Body = resp.Code, resp.Remark, resp.ExtFields, resp.Body
	return out
}

// peerClients keeps one remoting connection per peer node for forwarded
// requests; requests to one peer take turns on it.
type peerClients struct {
	maxFrame int
	mu       sync.Mutex
	byAddr   map[string]*peerClient
}

type peerClient struct {
	mu     sync.Mutex // one request at a time
	nc     net.Conn   // nil until dialled, and after a failure
	r      *bufio.Reader
	opaque int32
}

func newPeerClients(maxFrame int) *peerClients {
	return &peerClients{maxFrame: maxFrame, byAddr: map[string]*peerClient{}}
}

// call sends req to addr and waits for its response.
func (pc *peerClients) call(addr string, req *Command) (*Command, error) {
	pc.mu.Lock()
	p := pc.byAddr[addr]
	if p == nil {
		p = &peerClient{}
		pc.byAddr[addr] = p
	}
	pc.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nc == nil {
		nc, err := net.DialTimeout("tcp", addr, forwardTimeout)
		if err != nil {
			return nil, err
		}
		p.nc, p.r = nc, bufio.NewReader(nc)
	}
	resp, err := p.roundTrip(req, pc.maxFrame)
	if err != nil {
		p.nc.Close()
		p.nc = nil
	}
	return resp, err
}

// roundTrip writes req and reads until its response.
// REQUIRES: p.mu held, p.nc set.
func (p *peerClient) roundTrip(req *Command, maxFrame int) (*Command, error) {
	p.opaque++
	req.Opaque = p.opaque
	frame, err := AppendFrame(nil, req)
	if err != nil {
		return nil, err
	}
	p.nc.SetDeadline(time.Now().Add(forwardTimeout))
	if _, err := p.nc.Write(frame); err != nil {
		return nil, err
	}
	for {
		resp, err := ReadFrame(p.r, maxFrame)
		if err != nil {
			return nil, err
		}
		if resp.IsResponse() && resp.Opaque == req.Opaque {
			return resp, nil
		}
		// A server→client request (the peer thinks we are a client) or a
		// late answer: not ours.
	}
}

func (pc *peerClients) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, p := range pc.byAddr {
		p.mu.Lock()
		if p.nc != nil {
			p.nc.Close()
		}
		p.mu.Unlock()
	}
}
