package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// saslMechanisms are the mechanisms --sasl-mechanisms accepts.
var saslMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}

// SecurityConfig is encryption and authentication of Kafka clients.
type SecurityConfig struct {
	// TLSAddr is the host:port of a TLS listener beside the plaintext one
	// (KafkaAddr); empty for none.
	TLSAddr string
	// AdvertisedTLSAddr is the host:port clients of the TLS listener are
	// told in Metadata when there is a plaintext listener too (which
	// AdvertisedAddr is for); empty means TLSAddr as bound.
	AdvertisedTLSAddr string
	// TLSCert and TLSKey are PEM files of the listener's certificate
	// (chain) and key. Both are read again when either file changes, at
	// the next handshake, without a restart.
	TLSCert, TLSKey string
	// TLSClientCA is a PEM file of the CAs whose client certificates the
	// TLS listener requires (mutual TLS; the principal is then the
	// certificate's subject); empty accepts clients without one.
	TLSClientCA string
	// SASLMechanisms, when not empty, makes every Kafka listener require
	// SASL authentication with one of them.
	SASLMechanisms []string
	// SASLSessionLifetime is how long an authentication holds (KIP-368):
	// clients are told to re-authenticate before it ends, and a
	// connection used past it is closed. 0 is no limit.
	SASLSessionLifetime time.Duration
	// AllowPlainWithoutTLS offers SASL PLAIN, which sends the password
	// itself, on the plaintext listener too.
	AllowPlainWithoutTLS bool
	// BootstrapUser is NAME:PASSWORD of a user created (with SCRAM-SHA-256
	// and SCRAM-SHA-512 credentials) at start if it has none, so the first
	// client can authenticate.
	BootstrapUser string
	// InterBrokerUser is NAME:PASSWORD of the user a cluster node's
	// replica fetchers authenticate as when SASL is required. Every node
	// creates it at start if it has no credentials, and it passes every
	// ACL check (as Kafka's inter-broker principal is made a super user).
	InterBrokerUser string
	// InterBrokerTLSCA is a PEM file of the CAs that signed the other
	// brokers' listener certificates: a node without a plaintext listener
	// fetches from leaders over TLS and checks their certificates with
	// it (presenting its own certificate, for mutual TLS).
	InterBrokerTLSCA string
}

// InterBrokerUserParts splits InterBrokerUser into its name and password.
func (s SecurityConfig) InterBrokerUserParts() (name, password string, ok bool) {
	name, password, ok = strings.Cut(s.InterBrokerUser, ":")
	return name, password, ok && name != "" && password != ""
}

// BootstrapUserParts splits BootstrapUser into its name and password.
func (s SecurityConfig) BootstrapUserParts() (name, password string, ok bool) {
	name, password, ok = strings.Cut(s.BootstrapUser, ":")
	return name, password, ok && name != "" && password != ""
}

func (s *SecurityConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.TLSAddr, "kafka-tls-addr", s.TLSAddr, "Kafka protocol TLS listen address, beside --kafka-addr (which may be \"\" for TLS only); needs --tls-cert and --tls-key (env FERRY_KAFKA_TLS_ADDR)")
	fs.StringVar(&s.AdvertisedTLSAddr, "advertised-tls-addr", s.AdvertisedTLSAddr, "address given to clients of the TLS listener when --kafka-addr is also set; default the TLS listen address (env FERRY_ADVERTISED_TLS_ADDR)")
	fs.StringVar(&s.TLSCert, "tls-cert", s.TLSCert, "PEM certificate (chain) of the TLS listener; reloaded when it changes (env FERRY_TLS_CERT)")
	fs.StringVar(&s.TLSKey, "tls-key", s.TLSKey, "PEM private key of the TLS listener; reloaded when it changes (env FERRY_TLS_KEY)")
	fs.StringVar(&s.TLSClientCA, "tls-client-ca", s.TLSClientCA, "PEM CA certificates: the TLS listener then requires client certificates signed by them, whose subject is the principal (env FERRY_TLS_CLIENT_CA)")
	fs.Var(listValue{&s.SASLMechanisms}, "sasl-mechanisms", "require SASL authentication on every Kafka listener with these mechanisms, comma-separated: SCRAM-SHA-256,SCRAM-SHA-512,PLAIN (env FERRY_SASL_MECHANISMS)")
	fs.DurationVar(&s.SASLSessionLifetime, "sasl-session-lifetime", s.SASLSessionLifetime, "clients must re-authenticate within this long (KIP-368), else their connection is closed; 0 for no limit (env FERRY_SASL_SESSION_LIFETIME)")
	fs.BoolVar(&s.AllowPlainWithoutTLS, "allow-plain-without-tls", s.AllowPlainWithoutTLS, "offer SASL PLAIN, which sends passwords in the clear, on the plaintext listener too (env FERRY_ALLOW_PLAIN_WITHOUT_TLS)")
	fs.StringVar(&s.InterBrokerUser, "inter-broker-user", s.InterBrokerUser, "on a cluster with --sasl-mechanisms, the user `NAME:PASSWORD` followers authenticate as to fetch from leaders (SCRAM); created at start if absent, and a superuser; give every node the same (env FERRY_INTER_BROKER_USER)")
	fs.StringVar(&s.InterBrokerTLSCA, "inter-broker-tls-ca", s.InterBrokerTLSCA, "PEM CA certificates that signed the brokers' certificates: a cluster node without a plaintext listener (--kafka-addr \"\") fetches from leaders over TLS, verified with them (env FERRY_INTER_BROKER_TLS_CA)")
	fs.StringVar(&s.BootstrapUser, "bootstrap-user", s.BootstrapUser, "create user `NAME:PASSWORD` at start if it does not exist (env FERRY_BOOTSTRAP_USER)")
}

func (s SecurityConfig) validate(kafkaAddr string) []error {
	var errs []error
	if kafkaAddr == "" && s.TLSAddr == "" {
		errs = append(errs, errors.New("no Kafka listener: set --kafka-addr, --kafka-tls-addr or both"))
	}
	if s.TLSAddr != "" {
		if err := checkHostPort(s.TLSAddr); err != nil {
			errs = append(errs, fmt.Errorf("kafka tls addr %q %v: use --kafka-tls-addr host:port", s.TLSAddr, err))
		}
		if s.TLSCert == "" || s.TLSKey == "" {
			errs = append(errs, errors.New("--kafka-tls-addr needs --tls-cert and --tls-key"))
		}
		if s.AdvertisedTLSAddr != "" {
			if err := checkHostPort(s.AdvertisedTLSAddr); err != nil {
				errs = append(errs, fmt.Errorf("advertised tls addr %q %v: use --advertised-tls-addr host:port", s.AdvertisedTLSAddr, err))
			}
		}
	} else if s.TLSClientCA != "" || s.AdvertisedTLSAddr != "" || (s.TLSCert != "" || s.TLSKey != "") && s.InterBrokerTLSCA == "" {
		// Without a TLS listener a certificate serves the controller
		// port only (--inter-broker-tls-ca).
		errs = append(errs, errors.New("--tls-cert, --tls-key, --tls-client-ca and --advertised-tls-addr need --kafka-tls-addr (or, for the controller port alone, --inter-broker-tls-ca)"))
	}
	for _, f := range []string{s.TLSCert, s.TLSKey, s.TLSClientCA} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("TLS file: %w", err))
		}
	}
	for _, m := range s.SASLMechanisms {
		if !slices.Contains(saslMechanisms, m) {
			errs = append(errs, fmt.Errorf("SASL mechanism %q: use %s", m, strings.Join(saslMechanisms, ", ")))
		}
	}
	if s.SASLSessionLifetime < 0 {
		errs = append(errs, fmt.Errorf("sasl session lifetime %v must not be negative", s.SASLSessionLifetime))
	}
	if s.InterBrokerUser != "" {
		if _, _, ok := s.InterBrokerUserParts(); !ok {
			errs = append(errs, fmt.Errorf("inter-broker user must be NAME:PASSWORD with both parts non-empty"))
		}
	}
	if s.BootstrapUser != "" {
		if _, _, ok := s.BootstrapUserParts(); !ok {
			errs = append(errs, errors.New("--bootstrap-user must be NAME:PASSWORD, both not empty"))
		}
	}
	if len(s.SASLMechanisms) > 0 && kafkaAddr != "" && s.TLSAddr == "" && !s.AllowPlainWithoutTLS &&
		len(s.SASLMechanisms) == 1 && s.SASLMechanisms[0] == "PLAIN" {
		errs = append(errs, errors.New("--sasl-mechanisms PLAIN alone on a plaintext listener would refuse every client: add --kafka-tls-addr, a SCRAM mechanism, or --allow-plain-without-tls"))
	}
	return errs
}

// listValue is a comma-separated list flag.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	*v.p = nil
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v.p = append(*v.p, strings.ToUpper(part))
		}
	}
	return nil
}
