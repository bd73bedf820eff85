package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/auth"
)

// SASLConfig makes every listener of a server require SASL.
type SASLConfig struct {
	// Mechanisms offered: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN.
	Mechanisms []string
	// SessionLifetime is how long an authentication holds (KIP-368); 0
	// for ever.
	SessionLifetime time.Duration
	// AllowPlainWithoutTLS offers PLAIN on plaintext listeners too.
	AllowPlainWithoutTLS bool
	// FailureDelay holds the reply to a failed authentication back this
	// long before the connection closes (Kafka's
	// connection.failed.authentication.delay.ms), to slow guessing down.
	FailureDelay time.Duration
	// Limiter caps failed authentications per client address; nil is
	// auth.NewFailureLimiter().
	Limiter *auth.FailureLimiter
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// saslServer is the SASL state the listeners of one broker share.
type saslServer struct {
	cfg     SASLConfig
	authn   *auth.Authenticator
	limiter *auth.FailureLimiter
	// refusedLog throttles the lines of attempts refused while their
	// address is locked out.
	refusedLog logThrottle
}

// RequireSASL makes every connection to s, and to the TLS listeners made
// from s afterwards, authenticate before any request but ApiVersions,
// SaslHandshake and SaslAuthenticate. Call it before Serve.
func (s *Server) RequireSASL(cfg SASLConfig) {
	if cfg.Limiter == nil {
		cfg.Limiter = auth.NewFailureLimiter()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s.sasl = &saslServer{
		cfg:        cfg,
		authn:      auth.NewAuthenticator(func() auth.Credentials { return s.broker.Image() }),
		limiter:    cfg.Limiter,
		refusedLog: logThrottle{every: 10 * time.Second},
	}
}

// offered is the mechanisms a listener offers: PLAIN sends the password
// itself, so only over TLS unless allowed.
func (ss *saslServer) offered(tls bool) []string {
	out := make([]string, 0, len(ss.cfg.Mechanisms))
	for _, m := range ss.cfg.Mechanisms {
		if m == auth.Plain && !tls && !ss.cfg.AllowPlainWithoutTLS {
			continue
		}
		out = append(out, m)
	}
	return out
}

// saslConn is one connection's authentication; read goroutine only.
type saslConn struct {
	srv       *saslServer
	mechanism string        // of the last successful SaslHandshake
	exchange  auth.Exchange // in progress, between SaslHandshake and its end
	raw       bool          // SaslHandshake v0: tokens come as bare frames
	user      string        // authenticated, "" before
	expires   time.Time     // of the session; zero for never
}

func (ss *saslServer) newConn() *saslConn {
	if ss == nil {
		return nil
	}
	return &saslConn{srv: ss}
}

func (sc *saslConn) rawTokens() bool { return sc != nil && sc.raw }

// admit refuses a request the connection may not make yet: any but the
// three of authentication before it authenticated, and any after its
// session expired without re-authentication. Kafka closes the connection
// in both cases, so do we.
func (c *conn) admit(key int16) error {
	sc := c.sasl
	if sc == nil {
		return nil
	}
	switch key {
	case apiVersionsKey, saslHandshakeKey, saslAuthenticateKey:
		return nil
	}
	if sc.user == "" {
		return fmt.Errorf("%s request before SASL authentication, which this listener requires", kmsg.NameForKey(key))
	}
	if !sc.expires.IsZero() && !sc.srv.cfg.Now().Before(sc.expires) {
		return fmt.Errorf("SASL session of %s expired at %s without re-authentication (--sasl-session-lifetime)", c.principal, sc.expires.Format(time.RFC3339))
	}
	return nil
}

// saslError ends an authentication: code and message go to the client,
// the error itself to the log.
type saslError struct {
	code   *kerr.Error
	client string
	err    error
}

func (e *saslError) Error() string { return e.err.Error() }
func (e *saslError) Unwrap() error { return e.err }

// saslStep runs one client message of the exchange the last SaslHandshake
// started. On success it returns the server's message and, once the
// exchange completed, the session lifetime to tell the client.
func (c *conn) saslStep(msg []byte) ([]byte, time.Duration, error) {
	sc := c.sasl
	if sc.exchange == nil {
		return nil, 0, &saslError{kerr.IllegalSaslState, "SaslAuthenticate without a SaslHandshake first", errors.New("SaslAuthenticate without a SaslHandshake first")}
	}
	ss := sc.srv
	host := c.ClientHost()
	now := ss.cfg.Now()
	if ok, wait := ss.limiter.Allow(host, now); !ok {
		sc.exchange = nil
		if ok, held := ss.refusedLog.allow(now); ok {
			c.log.Warn("authentication refused: too many failures from this address", "host", host, "retry_in", wait.Round(time.Second), "refused_since_last_line", held)
		}
		msg := fmt.Sprintf("too many failed authentications from %s; try again in %v", host, wait.Round(time.Second))
		return nil, 0, &saslError{kerr.SaslAuthenticationFailed, msg, errors.New("authentication refused: " + msg)}
	}
	reply, err := sc.exchange.Step(msg)
	if err != nil {
		sc.exchange = nil
		lockedOut := ss.limiter.Fail(host, now)
		c.log.Warn("authentication failed", "mechanism", sc.mechanism, "reason", err, "locks_out_address", lockedOut)
		msg := fmt.Sprintf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", sc.mechanism)
		return nil, 0, &saslError{kerr.SaslAuthenticationFailed, msg, err}
	}
	if !sc.exchange.Done() {
		return reply, 0, nil
	}
	user := sc.exchange.User()
	sc.exchange = nil
	if sc.user != "" && sc.user != user {
		err := fmt.Errorf("re-authentication as %q on a connection of %q", user, sc.user)
		return nil, 0, &saslError{kerr.SaslAuthenticationFailed, "re-authentication must keep the principal", err}
	}
	reauth := sc.user != ""
	sc.user, c.principal, sc.raw = user, "User:"+user, false
	lifetime := ss.cfg.SessionLifetime
	if lifetime > 0 {
		sc.expires = now.Add(lifetime)
	}
	c.log.Debug("authenticated", "principal", c.principal, "mechanism", sc.mechanism, "reauthentication", reauth)
	return reply, lifetime, nil
}

// rawSASLToken handles a bare token after SaslHandshake v0. Its reply is
// a bare token too; a failure cannot be told, so the connection closes.
func (c *conn) rawSASLToken(frame []byte) error {
	token, _, err := c.saslStep(frame)
	if err != nil {
		return err
	}
	c.push(pendingReply{finish: func() reply { return rawTokenReply(token) }})
	return nil
}

// rawTokenReply is a SASL token framed by its size alone.
type rawTokenReply []byte

func (r rawTokenReply) write(w *replyWriter, _ requestHeader) error {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(r)))
	if _, err := w.bw.Write(size[:]); err != nil {
		return err
	}
	_, err := w.bw.Write(r)
	return err
}

// failedAuthReply holds a reply back for the configured delay, unless the
// connection ends first.
func (c *conn) failedAuthReply(resp kmsg.Response) finisher {
	delay := c.sasl.srv.cfg.FailureDelay
	ctx := c.ctx
	return func() reply {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		return msgReply{resp}
	}
}

// saslRefusal says why mechanism may not be used on c, or "" if it may.
func (c *conn) saslRefusal(mechanism string) string {
	offered := c.sasl.srv.offered(c.s.tlsConfig != nil)
	switch {
	case slices.Contains(offered, mechanism):
		return ""
	case mechanism == auth.Plain && slices.Contains(c.sasl.srv.cfg.Mechanisms, auth.Plain):
		return "PLAIN sends the password in the clear and is refused on a listener without TLS (--allow-plain-without-tls allows it)"
	default:
		return fmt.Sprintf("mechanism %q is not enabled (--sasl-mechanisms)", mechanism)
	}
}
