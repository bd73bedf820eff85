package config

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// ACLConfig is authorisation and client quota configuration.
type ACLConfig struct {
	// Authorizer turns ACL checks on (authorizer.class.name set). Checks
	// are also on whenever the broker requires authentication (SASL, or
	// client certificates); see Config.AuthorizationEnforced. With checks on, a request no ACL
	// allows is denied.
	Authorizer bool
	// Superusers pass every check: principals such as User:admin.
	Superusers []string
	// MaxConnectionsPerPrincipal bounds the open connections of one
	// principal; 0 for no limit.
	MaxConnectionsPerPrincipal int
	// InsecurePrincipalFromClientID is for tests only: a client id of the
	// form "principal=User:NAME[;rest]" sets the connection's principal,
	// so tests can act as several users before authentication exists. It
	// lets any client claim any identity, so Validate refuses it unless
	// Authorizer is on and it is never meant for a real broker.
	InsecurePrincipalFromClientID bool
}

// AuthorizationEnforced reports whether requests are checked against ACLs.
func (c Config) AuthorizationEnforced() bool {
	return c.ACL.Authorizer || len(c.Security.SASLMechanisms) > 0 || c.Security.TLSClientCA != ""
}

// InterBrokerMechanism is the SASL mechanism followers authenticate with:
// the strongest SCRAM one the listeners accept, or "" when none is.
func (c Config) InterBrokerMechanism() string {
	for _, m := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256"} {
		if slices.Contains(c.Security.SASLMechanisms, m) {
			return m
		}
	}
	return ""
}

// EffectiveSuperusers are --superusers plus the inter-broker user, whose
// follower fetches need CLUSTER_ACTION.
func (c Config) EffectiveSuperusers() []string {
	out := slices.Clone(c.ACL.Superusers)
	if name, _, ok := c.Security.InterBrokerUserParts(); ok && !slices.Contains(out, "User:"+name) {
		out = append(out, "User:"+name)
	}
	return out
}

func (c Config) validateACL() []error {
	var errs []error
	for _, s := range c.ACL.Superusers {
		if typ, name, ok := strings.Cut(s, ":"); !ok || typ != "User" || name == "" {
			errs = append(errs, fmt.Errorf("superuser %q is not of the form User:NAME", s))
		}
	}
	if c.ACL.MaxConnectionsPerPrincipal < 0 {
		errs = append(errs, fmt.Errorf("max connections per principal %d must not be negative (0: no limit)", c.ACL.MaxConnectionsPerPrincipal))
	}
	if c.Security.InterBrokerTLSCA != "" && (c.Security.TLSCert == "" || c.Security.TLSKey == "") {
		errs = append(errs, fmt.Errorf("--inter-broker-tls-ca needs --tls-cert and --tls-key: each node presents its certificate to the others"))
	}
	if c.ControllerQuorum != "" && c.KafkaAddr == "" && c.Security.InterBrokerTLSCA == "" {
		errs = append(errs, fmt.Errorf("a cluster node without a plaintext listener (--kafka-addr \"\") needs --inter-broker-tls-ca: followers fetch from leaders over TLS and must verify their certificates"))
	}
	if c.ControllerQuorum != "" && c.AuthorizationEnforced() {
		// Followers fetch from leaders over the Kafka port: with checks
		// on they must authenticate, and only SASL gives them a way to.
		switch {
		case len(c.Security.SASLMechanisms) == 0:
			errs = append(errs, fmt.Errorf("--authorizer or --tls-client-ca on a cluster (--controller-quorum) needs --sasl-mechanisms and --inter-broker-user too: followers replicate over the Kafka port and must authenticate"))
		case c.Security.InterBrokerUser == "":
			errs = append(errs, fmt.Errorf("--sasl-mechanisms on a cluster (--controller-quorum) needs --inter-broker-user NAME:PASSWORD (the same on every node): followers replicate over the Kafka port and must authenticate"))
		case c.InterBrokerMechanism() == "":
			errs = append(errs, fmt.Errorf("--inter-broker-user needs SCRAM-SHA-256 or SCRAM-SHA-512 in --sasl-mechanisms (followers do not send PLAIN passwords)"))
		}
	}
	if c.ACL.InsecurePrincipalFromClientID && !c.ACL.Authorizer {
		errs = append(errs, fmt.Errorf("--insecure-principal-from-client-id is a test-only switch and needs --authorizer=true"))
	}
	return errs
}

func (c *Config) aclFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.ACL.Authorizer, "authorizer", c.ACL.Authorizer, "check every request against ACLs and deny what no ACL allows; on by itself when authentication is required (env FERRY_AUTHORIZER)")
	fs.Var(commaListValue{&c.ACL.Superusers}, "superusers", "principals that pass every ACL check, `User:NAME,...` (super.users; env FERRY_SUPERUSERS)")
	fs.IntVar(&c.ACL.MaxConnectionsPerPrincipal, "max-connections-per-principal", c.ACL.MaxConnectionsPerPrincipal, "most open connections of one principal, 0 for no limit (env FERRY_MAX_CONNECTIONS_PER_PRINCIPAL)")
	fs.BoolVar(&c.ACL.InsecurePrincipalFromClientID, "insecure-principal-from-client-id", false, "TEST ONLY, never in production: take the principal from a client id \"principal=User:NAME\"; needs --authorizer=true (env FERRY_INSECURE_PRINCIPAL_FROM_CLIENT_ID)")
}

// commaListValue is a comma-separated list flag.
type commaListValue struct{ p *[]string }

func (v commaListValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v commaListValue) Set(s string) error {
	*v.p = nil
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v.p = append(*v.p, part)
		}
	}
	return nil
}
