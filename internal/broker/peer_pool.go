package broker

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// peerConnsPerNode bounds the idle connections kept to one peer for
// coordinator traffic (transaction markers, KIP-890 verification); more may
// be open while requests run concurrently.
const peerConnsPerNode = 4

// peerPool keeps connections to other brokers for the requests coordinators
// and partition leaders send each other. A peerConn serves one request at
// a time, so a request takes an idle connection (or dials one) and gives it
// back when its response is read; a connection that failed is closed.
type peerPool struct {
	mu     sync.Mutex
	idle   map[int32][]*peerConn
	closed bool
}

// request sends req to node and returns its response. dial connects when
// no idle connection is left.
func (pp *peerPool) request(node int32, req kmsg.Request, timeout time.Duration, dial func(int32) (*peerConn, error)) (kmsg.Response, error) {
	pc, err := pp.take(node, dial)
	if err != nil {
		return nil, err
	}
	resp, err := pc.roundTrip(req, timeout)
	if err != nil {
		pc.Close()
		return nil, err
	}
	pp.give(node, pc)
	return resp, nil
}

func (pp *peerPool) take(node int32, dial func(int32) (*peerConn, error)) (*peerConn, error) {
	pp.mu.Lock()
	if n := len(pp.idle[node]); n > 0 {
		pc := pp.idle[node][n-1]
		pp.idle[node] = pp.idle[node][:n-1]
		pp.mu.Unlock()
		return pc, nil
	}
	pp.mu.Unlock()
	return dial(node)
}

func (pp *peerPool) give(node int32, pc *peerConn) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed || len(pp.idle[node]) >= peerConnsPerNode {
		pc.Close()
		return
	}
	if pp.idle == nil {
		pp.idle = map[int32][]*peerConn{}
	}
	pp.idle[node] = append(pp.idle[node], pc)
}

// close closes the idle connections; those in use close when returned.
func (pp *peerPool) close() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.closed = true
	for _, conns := range pp.idle {
		for _, pc := range conns {
			pc.Close()
		}
	}
	pp.idle = nil
}
