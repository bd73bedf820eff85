package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The first byte of a connection to the controller port.
const (
	connRaft      byte = 'R'
	connForward   byte = 'F'
	connHeartbeat byte = 'H' // broker heartbeats and join probes, see heartbeat.go
)

// dialFunc opens a connection to another node (config.Config.Dialer()).
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

var errListenerClosed = errors.New("controller listener closed")

// mux shares the controller listener between Raft's transport (it is the
// transport's raft.StreamLayer), forwarded proposals and heartbeats.
type mux struct {
	ln        net.Listener
	advertise net.Addr
	dial      dialFunc
	serve     map[byte]func(net.Conn) // by connection kind, except Raft's
	raftConns chan net.Conn
	mu        sync.Mutex
	served    map[net.Conn]struct{} // connections being served, closed by Close
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newMux(ln net.Listener, advertise string, dial dialFunc, serve map[byte]func(net.Conn)) (*mux, error) {
	addr, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		return nil, err
	}
	m := &mux{ln: ln, advertise: addr, dial: dial, serve: serve, raftConns: make(chan net.Conn), served: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

func (m *mux) acceptLoop() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

// route reads the connection's first byte and hands it on.
func (m *mux) route(c net.Conn) {
	var kind [1]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(kind[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	if kind[0] == connRaft {
		select {
		case m.raftConns <- c:
		case <-m.closed:
			c.Close()
		}
		return
	}
	if serve, ok := m.serve[kind[0]]; ok {
		// A heartbeat connection stays open as long as its broker
		// wants: Close must end it, not wait for it.
		m.mu.Lock()
		select {
		case <-m.closed:
			m.mu.Unlock()
			c.Close()
			return
		default:
		}
		m.served[c] = struct{}{}
		m.mu.Unlock()
		serve(c)
		m.mu.Lock()
		delete(m.served, c)
		m.mu.Unlock()
		return
	}
	c.Close() // not a controller peer
}

// Accept returns the next Raft connection (net.Listener, for raft).
func (m *mux) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftConns:
		return c, nil
	case <-m.closed:
		return nil, errListenerClosed
	}
}

// Close stops accepting and ends the connections being served;
// connections handed to Raft are its own to close.
func (m *mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		m.mu.Lock()
		close(m.closed)
		for c := range m.served {
			c.Close()
		}
		m.mu.Unlock()
		err = m.ln.Close()
	})
	return err
}

// Addr is the address peers know this node by.
func (m *mux) Addr() net.Addr { return m.advertise }

// Dial opens a Raft connection to a peer (raft.StreamLayer).
func (m *mux) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialKind(m.dial, string(addr), connRaft, timeout)
}

// dialKind opens a connection of one kind to a controller port.
func dialKind(dial dialFunc, addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialTLS wraps dial so that every connection to another controller port
// is TLS, verified against the peer's host and presenting this node's
// certificate (base holds the CAs and the certificate).
func dialTLS(dial dialFunc, base *tls.Config) dialFunc {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := base.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			tc.ServerName = host
		}
		t := tls.Client(c, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with controller port %s: %w", addr, err)
		}
		return t, nil
	}
}
