package kafka

import (
	"strings"

	"github.com/ferry-mq/ferry/internal/acl"
)

// effectivePrincipal is the principal ACL checks and quotas apply to: the
// connection's Principal, except under the test-only switch
// --insecure-principal-from-client-id, where an unauthenticated client
// with a client id "principal=User:NAME[;anything]" acts as User:NAME (so
// integration tests can act as several users without credentials; the
// switch needs --authorizer and must never be used on a real broker).
// Read goroutine only: it reads the request's client id. Allocates nothing.
func (c *conn) effectivePrincipal() string {
	p := c.Principal()
	if c.s.security.insecurePrincipalFromClientID && p == acl.Anonymous {
		if claimed, ok := principalFromClientID(c.clientID); ok {
			return claimed
		}
	}
	return p
}

// principalFromClientID parses the test-only principal out of a client id.
func principalFromClientID(clientID string) (string, bool) {
	rest, ok := strings.CutPrefix(clientID, "principal=")
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest = rest[:i]
	}
	if !strings.HasPrefix(rest, "User:") || len(rest) == len("User:") {
		return "", false
	}
	return rest, true
}
