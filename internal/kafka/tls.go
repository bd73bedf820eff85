package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/ferry-mq/ferry/internal/auth"
)

// TLSListener returns a server for a TLS listener of the same broker as s:
// it shares s's request budget, connection limits and SASL settings (call
// RequireSASL on s first), and tells clients its own advertised address.
func (s *Server) TLSListener(advertised string, cfg *tls.Config) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Server{
		broker: s.broker, log: s.log.With("listener", "tls"), advertised: advertised,
		ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
		budget: s.budget, limits: s.limits, tlsConfig: cfg, sasl: s.sasl, security: s.security,
		metrics: s.metrics, slowRequest: s.slowRequest, // one set of metrics for both listeners
	}
	for i := range t.refused {
		t.refused[i].every = 10 * time.Second
	}
	return t
}

// handshakeTLS completes the TLS handshake of a TLS listener's connection
// within --request-read-timeout, and takes the principal from the client's
// certificate when it sent one (mutual TLS).
func (c *conn) handshakeTLS() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.readTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		c.principal = auth.CertificatePrincipal(certs[0])
		c.log.Debug("TLS client certificate accepted", "principal", c.principal)
	}
	return nil
}
