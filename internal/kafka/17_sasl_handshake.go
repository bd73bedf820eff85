package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake: v0-1.
//
// Picks the mechanism of the SASL exchange that follows and lists those the
// listener offers (PLAIN only on TLS listeners unless
// --allow-plain-without-tls). After v0 the exchange's tokens come as bare
// size-prefixed frames; after v1 in SaslAuthenticate requests. A second
// handshake on an authenticated connection starts a re-authentication
// (KIP-368), which must use the same mechanism. An unknown mechanism, a
// handshake in the middle of an exchange or on a listener without SASL is
// answered with its error and the connection closed, as Kafka does.

const saslHandshakeKey = 17

func init() { register(saslHandshakeKey, 0, 1, handleSaslHandshake) }

func handleSaslHandshake(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	sc := c.sasl
	if sc == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closing = fmt.Errorf("SaslHandshake (%s) on a listener without SASL (--sasl-mechanisms)", req.Mechanism)
		return now(resp)
	}
	resp.SupportedMechanisms = sc.srv.offered(c.s.tlsConfig != nil)
	switch {
	case sc.exchange != nil:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closing = fmt.Errorf("SaslHandshake (%s) in the middle of a %s exchange", req.Mechanism, sc.mechanism)
	case sc.user != "" && req.Mechanism != sc.mechanism:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closing = fmt.Errorf("re-authentication with %s on a connection authenticated with %s", req.Mechanism, sc.mechanism)
	default:
		if why := c.saslRefusal(req.Mechanism); why != "" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			c.closing = fmt.Errorf("SASL refused: %s", why)
			return now(resp)
		}
		x, err := sc.srv.authn.Start(req.Mechanism)
		if err != nil {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			c.closing = err
			return now(resp)
		}
		sc.mechanism, sc.exchange, sc.raw = req.Mechanism, x, req.Version == 0
	}
	return now(resp)
}
