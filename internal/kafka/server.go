// Package kafka serves the Kafka wire protocol on top of the broker.
//
// Requests and responses are decoded and encoded with franz-go's kmsg; the
// only hand-built encoding is the Fetch response envelope, so record bytes
// can go from segment files to the socket with sendfile (fetch_encode.go,
// checked byte for byte against kmsg in its test).
//
// Each API lives in a file named by its key (00_produce.go …). Each file
// registers its handler and supported versions in init, and ApiVersions
// answers from that registry, so no client is told of an API that does not
// work.
//
// What clients can make the broker hold is bounded: a request's buffer
// grows as its bytes arrive, from a broker-wide budget of request bytes
// (internal/reqbudget) that readers wait on; connections are capped in
// number, per address too, and closed when idle or stalled mid-request
// (limits.go, conn.go).
//
// A TLS listener (tls.go) is a second Server sharing the first one's budget,
// limits, SASL settings and ACL and quota state; its connections cannot use sendfile, so fetches
// copy file sections through the write buffer (sendfile.go). With SASL
// required (sasl.go, 17_sasl_handshake.go, 36_sasl_authenticate.go) a
// connection may send only ApiVersions, SaslHandshake and SaslAuthenticate
// until it authenticates; its principal (principal.go) is what ACLs check.
//
// With ACL enforcement on, every request is checked in front of its handler
// (authorize.go and its siblings, Kafka's rules and error codes); client
// quotas throttle requests with throttle_time_ms and a pause in reading
// (quota.go, quota_conn.go).
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
	"github.com/ferry-mq/ferry/internal/metrics"
	"github.com/ferry-mq/ferry/internal/reqbudget"
)

// Server accepts Kafka protocol connections.
type Server struct {
	broker *broker.Broker
	log    *slog.Logger
	// advertised is the host:port put in Metadata responses.
	advertised string

	ctx    context.Context // cancelled by Close: ends long polls
	cancel context.CancelFunc

	metrics     *serverMetrics
	slowRequest time.Duration // --slow-request; 0 logs none

	budget  *reqbudget.Budget // request bytes read and not yet handled
	limits  *connLimits
	refused [numLimitKinds]logThrottle // log lines of connections over each limit

	// tlsConfig is set on a TLS listener (tls.go); sasl when SASL is
	// required (sasl.go), shared by the listeners of one broker.
	tlsConfig *tls.Config
	sasl      *saslServer
	// security is shared by every listener of the broker: a Server made
	// without it fails its requests closed (a handler panic closes the
	// connection) instead of serving them unchecked.
	security *serverSecurity

	mu    sync.Mutex
	lis   net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewServer makes a server for b. advertised is the address clients are
// told to connect to.
func NewServer(b *broker.Broker, advertised string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := b.Config()
	s := &Server{
		broker: b, log: logger, advertised: advertised, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
		budget: reqbudget.New(cfg.QueuedMaxRequestBytes),
		limits: newConnLimits(cfg.MaxConnections, cfg.MaxConnectionsPerIP),

		metrics:     newServerMetrics(cfg.Metrics),
		slowRequest: cfg.SlowRequest,
	}
	if cfg.AuthorizationEnforced() && len(cfg.EffectiveSuperusers()) == 0 {
		// Kafka's super.users trap: with checks on, only bindings let
		// anyone in, and only a superuser can add the first ones.
		logger.Warn("ACL checks are on and no --superusers are set: only existing ACL bindings allow anything, and nobody may add the first ones",
			"acl_bindings", len(b.Image().ACLs().Bindings))
	}
	s.security = &serverSecurity{
		authz:                         acl.New(cfg.AuthorizationEnforced(), cfg.EffectiveSuperusers(), func() *meta.ACLSet { return b.Image().ACLs() }),
		insecurePrincipalFromClientID: cfg.ACL.InsecurePrincipalFromClientID,
		quotas:                        newQuotaManager(func() *meta.QuotaSet { return b.Image().Quotas() }, cfg.ACL.MaxConnectionsPerPrincipal),
	}
	s.metrics.sink.Register(metrics.SourceFunc(s.collect))
	for i := range s.refused {
		s.refused[i].every = 10 * time.Second
	}
	return s
}

// Serve accepts connections on lis until Close.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	s.lis = lis
	s.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := lis.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if isResourceShortage(err) {
				// Out of descriptors or memory for now: wait and
				// go on, rather than stop serving for good.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-s.ctx.Done():
					return nil
				}
				continue
			}
			return err
		}
		backoff = 0
		if kind, err := s.limits.admit(c.RemoteAddr()); err != nil {
			if ok, held := s.refused[kind].allow(time.Now()); ok {
				s.log.Warn("refused connection", "remote", c.RemoteAddr().String(), "reason", err, "refused_since_last_line", held)
			}
			c.Close()
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		if s.tlsConfig != nil {
			c = tls.Server(c, s.tlsConfig) // handshake in conn.serve
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			s.limits.leave(c.RemoteAddr())
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			newConn(s, c).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.limits.leave(c.RemoteAddr())
		}()
	}
}

// isResourceShortage reports accept errors that pass once descriptors or
// memory are freed.
func isResourceShortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.lis != nil {
		s.lis.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats is a snapshot of what the server's clients hold.
type Stats struct {
	// Connections is the number of open client connections.
	Connections int
	// RequestBytesInUse is the part of --queued-max-request-bytes held by
	// requests read and not yet handled.
	RequestBytesInUse int64
}

// Stats returns the server's current counts, for metrics and tests.
func (s *Server) Stats() Stats {
	return Stats{Connections: s.limits.open(), RequestBytesInUse: s.budget.InUse()}
}
