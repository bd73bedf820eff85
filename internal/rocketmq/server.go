package rocketmq

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/metrics"
	"github.com/ferry-mq/ferry/internal/msgindex"
	"github.com/ferry-mq/ferry/internal/reqbudget"
	"github.com/ferry-mq/ferry/internal/rocketmq/halftxn"
)

// Server accepts RocketMQ remoting connections and serves the NameServer
// and broker roles on them.
type Server struct {
	broker *broker.Broker
	log    *slog.Logger
	// advertised is this node's RocketMQ host:port as routes give it.
	advertised string
	// maxFrame bounds one frame (--max-request-bytes, and never more
	// than the whole request budget); a bigger one closes its connection.
	maxFrame int
	// idle closes a connection that sends nothing this long;
	// readTimeout one whose frame is not complete this long after it
	// began (--connections-max-idle, --request-read-timeout).
	idle, readTimeout time.Duration
	// maxConns bounds this listener's open connections
	// (--max-connections, counted apart from the Kafka listeners').
	maxConns int
	// budget bounds the bytes of frames read and not yet handled, all
	// connections together (--queued-max-request-bytes, apart from the
	// Kafka listeners' own).
	budget *reqbudget.Budget

	clients *Clients
	metrics *serverMetrics
	consume *consumeState // consumer-side state (consume.go)
	peers   *peerClients  // connections for requests forwarded to peers (offsets_forward.go)
	// halfStore keeps transactional half messages (transactions.go); nil
	// while this node does not serve them.
	halfStore   atomic.Pointer[halftxn.Store]
	halfSenders halfSenders
	txnWG       sync.WaitGroup // the goroutine following __rmq_half-0's leadership
	// msgIndex finds records by key for QUERY_MESSAGE (query.go); nil
	// when --rocketmq-message-index is off.
	msgIndex *msgindex.Manager

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu    sync.Mutex
	lis   net.Listener
	conns map[*Conn]struct{}
	wg    sync.WaitGroup
}

// NewServer makes a server for b; advertised is the host:port clients are
// told to reach this node's RocketMQ listener at.
func NewServer(b *broker.Broker, advertised string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := b.Config()
	s := &Server{
		broker:      b,
		log:         logger,
		advertised:  advertised,
		maxFrame:    int(min(int64(cfg.MaxRequestBytes), cfg.QueuedMaxRequestBytes)),
		idle:        cfg.ConnectionsMaxIdle,
		readTimeout: cfg.RequestReadTimeout,
		maxConns:    cfg.MaxConnections,
		budget:      reqbudget.New(cfg.QueuedMaxRequestBytes),
		ctx:         ctx,
		cancel:      cancel,
		conns:       map[*Conn]struct{}{},
	}
	s.clients = newClients(s)
	s.metrics = newServerMetrics(cfg.Metrics)
	metrics.OrNop(cfg.Metrics).Register(metrics.SourceFunc(s.collect))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.clients.expireLoop()
	}()
	s.consume = newConsumeState(time.Now, cfg.RocketMQ.QueueLockTTL)
	s.peers = newPeerClients(s.maxFrame)
	s.startTransactions(cfg.RocketMQ)
	if cfg.RocketMQ.MessageIndex {
		s.startMessageIndex()
	}
	return s
}

// Broker is the broker the server fronts.
func (s *Server) Broker() *broker.Broker { return s.broker }

// Clients is the registry of connected producers and consumers.
func (s *Server) Clients() *Clients { return s.clients }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Context is cancelled when the server closes: long waits end on it.
func (s *Server) Context() context.Context { return s.ctx }

// Serve accepts connections on lis until Close.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	s.lis = lis
	s.mu.Unlock()
	for {
		nc, err := lis.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("accept failed; retrying", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-s.ctx.Done():
				return nil
			}
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if s.maxConns > 0 && len(s.conns) >= s.maxConns {
			s.mu.Unlock()
			s.log.Warn("refused connection: at --max-connections", "remote", nc.RemoteAddr().String(), "max", s.maxConns)
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.clients.dropConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// RequestBytesInUse is the bytes of frames read and not yet handled.
func (s *Server) RequestBytesInUse() int64 { return s.budget.InUse() }

// Addr is the bound listener address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.lis != nil {
		s.lis.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.peers.close()
	s.txnWG.Wait() // closes the half-message store
	if s.msgIndex != nil {
		s.msgIndex.Close()
	}
	return nil
}
