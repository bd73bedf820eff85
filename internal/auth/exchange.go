package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/xdg-go/scram"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Mechanism names as SaslHandshake carries them.
const (
	ScramSHA256 = meta.ScramSHA256
	ScramSHA512 = meta.ScramSHA512
	Plain       = "PLAIN"
)

// Mechanisms lists every mechanism this package speaks.
var Mechanisms = []string{ScramSHA256, ScramSHA512, Plain}

// Supported reports whether mechanism is one of Mechanisms.
func Supported(mechanism string) bool { return slices.Contains(Mechanisms, mechanism) }

// ErrFailed is wrapped by every error of an exchange whose client did not
// prove who it is: a wrong password, an unknown user or a malformed message.
// The wrapped text is for the broker's log, not for the client, which is
// told only that authentication failed (no probing for user names).
var ErrFailed = errors.New("authentication failed")

// maxMessage bounds one client message of an exchange: SCRAM and PLAIN
// messages are a few hundred bytes.
const maxMessage = 8 << 10

// Exchange is one authentication attempt: the client's messages go in,
// the server's come out, until Done.
type Exchange interface {
	// Step takes the client's next message and returns the reply. An
	// error wraps ErrFailed; the exchange is then over.
	Step(msg []byte) ([]byte, error)
	// Done reports that the exchange succeeded.
	Done() bool
	// User is the authenticated user once Done.
	User() string
}

// Authenticator starts exchanges against the credentials that creds returns
// at the time (the newest metadata image).
type Authenticator struct {
	creds func() Credentials
	// decoySecret makes up stable credentials for unknown users, so a SCRAM
	// exchange for one looks like one for a known user with a wrong
	// password.
	decoySecret [32]byte
}

// NewAuthenticator returns an Authenticator reading credentials from creds.
func NewAuthenticator(creds func() Credentials) *Authenticator {
	a := &Authenticator{creds: creds}
	rand.Read(a.decoySecret[:])
	return a
}

// Start begins an exchange of mechanism.
func (a *Authenticator) Start(mechanism string) (Exchange, error) {
	switch mechanism {
	case ScramSHA256, ScramSHA512:
		return a.startScram(mechanism)
	case Plain:
		return &plainExchange{a: a}, nil
	}
	return nil, fmt.Errorf("unsupported SASL mechanism %q", mechanism)
}

func (a *Authenticator) startScram(mechanism string) (Exchange, error) {
	hashGen := scram.SHA256
	if mechanism == ScramSHA512 {
		hashGen = scram.SHA512
	}
	x := &scramExchange{mechanism: mechanism, keyLen: meta.ScramKeyLen(mechanism), hashGen: hashGen}
	srv, err := hashGen.NewServer(func(user string) (scram.StoredCredentials, error) {
		c, ok := a.creds().ScramCredential(user, mechanism)
		if !ok {
			x.unknownUser = true
			c = a.decoy(user, mechanism)
		}
		x.cred = c
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: int(c.Iterations)},
			StoredKey:  c.StoredKey, ServerKey: c.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, err
	}
	x.conv = srv.NewConversation()
	return x, nil
}

// decoy is the made-up credential of an unknown user: its salt is the
// same at every attempt, as a real user's would be, and no proof matches
// its keys.
func (a *Authenticator) decoy(user, mechanism string) meta.ScramCredential {
	mac := hmac.New(sha256.New, a.decoySecret[:])
	mac.Write([]byte(mechanism + "\x00" + user))
	salt := mac.Sum(nil)[:24]
	keys := make([]byte, 2*meta.ScramKeyLen(mechanism))
	rand.Read(keys)
	n := len(keys) / 2
	return meta.ScramCredential{User: user, Mechanism: mechanism, Salt: salt, Iterations: DefaultIterations, StoredKey: keys[:n], ServerKey: keys[n:]}
}

type scramExchange struct {
	mechanism   string
	keyLen      int
	hashGen     scram.HashGeneratorFcn
	conv        *scram.ServerConversation
	unknownUser bool
	done        bool
	// For the final step librdkafka needs (kafka_nonce.go): the client's
	// and the server's first messages, and the credential they used.
	clientFirst, serverFirst string
	cred                     meta.ScramCredential
	user                     string // set by that final step
}

func (x *scramExchange) Step(msg []byte) ([]byte, error) {
	if len(msg) > maxMessage {
		return nil, fmt.Errorf("%w: %s message of %d bytes", ErrFailed, x.mechanism, len(msg))
	}
	if x.done || x.conv == nil {
		return nil, fmt.Errorf("%w: %s exchange is over", ErrFailed, x.mechanism)
	}
	if x.serverFirst != "" {
		if reply, ok, err := x.prefixedNonceFinal(string(msg)); ok {
			return reply, err
		}
	}
	reply, err := x.conv.Step(string(msg))
	if err == nil && x.serverFirst == "" && !x.conv.Done() {
		x.clientFirst, x.serverFirst = string(msg), reply
	}
	switch {
	case err != nil && x.unknownUser:
		return nil, fmt.Errorf("%w: %s: unknown user %q", ErrFailed, x.mechanism, x.conv.Username())
	case err != nil:
		return nil, fmt.Errorf("%w: %s user %q: %v", ErrFailed, x.mechanism, x.conv.Username(), err)
	}
	if x.conv.Done() {
		if !x.conv.Valid() {
			return nil, fmt.Errorf("%w: %s user %q: proof not valid", ErrFailed, x.mechanism, x.conv.Username())
		}
		if z := x.conv.AuthzID(); z != "" && z != x.conv.Username() {
			return nil, fmt.Errorf("%w: %s user %q asked to act as %q", ErrFailed, x.mechanism, x.conv.Username(), z)
		}
		x.done = true
	}
	return []byte(reply), nil
}

func (x *scramExchange) Done() bool { return x.done }

func (x *scramExchange) User() string {
	if !x.done {
		return ""
	}
	if x.user != "" {
		return x.user
	}
	return x.conv.Username()
}
