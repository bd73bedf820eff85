package auth

import (
	"bytes"
	"crypto/subtle"
	"fmt"

	"github.com/ferry-mq/ferry/internal/meta"
)

// plainExchange is SASL PLAIN (RFC 4616): one message,
// authzid NUL authcid NUL password, checked against the user's stored
// SCRAM credential by salting the password with its salt.
type plainExchange struct {
	a    *Authenticator
	user string
	used bool
}

func (x *plainExchange) Step(msg []byte) ([]byte, error) {
	if x.used {
		return nil, fmt.Errorf("%w: PLAIN takes one message", ErrFailed)
	}
	x.used = true
	if len(msg) > maxMessage {
		return nil, fmt.Errorf("%w: PLAIN message of %d bytes", ErrFailed, len(msg))
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: PLAIN message is not authzid NUL user NUL password", ErrFailed)
	}
	authz, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	if user == "" || password == "" {
		return nil, fmt.Errorf("%w: PLAIN message with an empty user or password", ErrFailed)
	}
	if authz != "" && authz != user {
		return nil, fmt.Errorf("%w: PLAIN user %q asked to act as %q", ErrFailed, user, authz)
	}
	if !x.a.checkPassword(user, password) {
		return nil, fmt.Errorf("%w: PLAIN user %q: unknown user or wrong password", ErrFailed, user)
	}
	x.user = user
	return nil, nil
}

func (x *plainExchange) Done() bool   { return x.user != "" }
func (x *plainExchange) User() string { return x.user }

// checkPassword reports whether password matches a stored SCRAM
// credential of user. An unknown user costs the same work as a known one.
func (a *Authenticator) checkPassword(user, password string) bool {
	creds := a.creds()
	c, ok := creds.ScramCredential(user, meta.ScramSHA256)
	if !ok {
		c, ok = creds.ScramCredential(user, meta.ScramSHA512)
	}
	if !ok {
		c = a.decoy(user, meta.ScramSHA256)
	}
	salted, err := SaltPassword(c.Mechanism, password, c.Salt, int(c.Iterations))
	if err != nil {
		return false
	}
	stored, _, err := ScramKeys(c.Mechanism, salted)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(stored, c.StoredKey) == 1 && ok
}
