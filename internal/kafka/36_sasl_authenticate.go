package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslAuthenticate: v0-2.
//
// Carries one client message of the exchange SaslHandshake v1 started and
// returns the server's. When the exchange completes, the connection's
// principal becomes User:NAME and, from v1, session_lifetime_ms tells the
// client when to re-authenticate (--sasl-session-lifetime, 0 for never).
// A failure answers SASL_AUTHENTICATION_FAILED after the failure delay,
// logs the reason, counts against the client's address (auth.FailureLimiter)
// and closes the connection.

const saslAuthenticateKey = 36

func init() { register(saslAuthenticateKey, 0, 2, handleSaslAuthenticate) }

func handleSaslAuthenticate(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sasl == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closing = errors.New("SaslAuthenticate on a listener without SASL (--sasl-mechanisms)")
		return now(resp)
	}
	if c.sasl.raw {
		// Unreachable: after v0 frames are tokens, never requests.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.closing = errors.New("SaslAuthenticate after SaslHandshake v0")
		return now(resp)
	}
	reply, lifetime, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		var se *saslError
		if !errors.As(err, &se) {
			se = &saslError{kerr.SaslAuthenticationFailed, "authentication failed", err}
		}
		resp.ErrorCode = se.code.Code
		resp.ErrorMessage = &se.client
		c.closing = fmt.Errorf("authentication failed: %w", err)
		return c.failedAuthReply(resp)
	}
	resp.SASLAuthBytes = reply
	resp.SessionLifetimeMillis = lifetime.Milliseconds()
	return now(resp)
}
