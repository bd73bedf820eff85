package main

// Client-side TLS and SASL for every client subcommand: flags, their
// FERRY_* variables, and the franz-go options they become.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// securityEnv are the variables of the client security flags, which
// `ferry serve` must not warn about when they are set in its shell.
var securityEnv = []string{"FERRY_TLS", "FERRY_TLS_CA", "FERRY_TLS_CLIENT_CERT", "FERRY_TLS_CLIENT_KEY", "FERRY_SASL_MECHANISM", "FERRY_SASL_USER", "FERRY_SASL_PASSWORD"}

type securityFlags struct {
	tls                 bool
	ca, certFile, key   string
	mechanism, user, pw string
}

func addSecurityFlags(fs *flag.FlagSet) *securityFlags {
	s := &securityFlags{
		tls: os.Getenv("FERRY_TLS") == "true" || os.Getenv("FERRY_TLS") == "1",
		ca:  os.Getenv("FERRY_TLS_CA"), certFile: os.Getenv("FERRY_TLS_CLIENT_CERT"), key: os.Getenv("FERRY_TLS_CLIENT_KEY"),
		mechanism: os.Getenv("FERRY_SASL_MECHANISM"), user: os.Getenv("FERRY_SASL_USER"), pw: os.Getenv("FERRY_SASL_PASSWORD"),
	}
	if s.mechanism == "" {
		s.mechanism = "SCRAM-SHA-512"
	}
	fs.BoolVar(&s.tls, "tls", s.tls, "connect with TLS (implied by --tls-ca and --tls-client-cert) (env FERRY_TLS)")
	fs.StringVar(&s.ca, "tls-ca", s.ca, "PEM CA `file` to verify the broker's certificate with; default the system's (env FERRY_TLS_CA)")
	fs.StringVar(&s.certFile, "tls-client-cert", s.certFile, "PEM client certificate `file` for mutual TLS (env FERRY_TLS_CLIENT_CERT)")
	fs.StringVar(&s.key, "tls-client-key", s.key, "PEM client key `file` for mutual TLS (env FERRY_TLS_CLIENT_KEY)")
	fs.StringVar(&s.mechanism, "sasl-mechanism", s.mechanism, "SASL mechanism when --sasl-user is set: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (env FERRY_SASL_MECHANISM)")
	fs.StringVar(&s.user, "sasl-user", s.user, "authenticate as this user (env FERRY_SASL_USER)")
	fs.StringVar(&s.pw, "sasl-password", s.pw, "password of --sasl-user; prefer the environment variable, which no process listing shows (env FERRY_SASL_PASSWORD)")
	return s
}

// opts returns the franz-go options of the flags.
func (s *securityFlags) opts() ([]kgo.Opt, error) {
	if s == nil {
		return nil, nil
	}
	var opts []kgo.Opt
	if s.tls || s.ca != "" || s.certFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.ca != "" {
			pem, err := os.ReadFile(s.ca)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", s.ca)
			}
		}
		if (s.certFile == "") != (s.key == "") {
			return nil, errors.New("--tls-client-cert and --tls-client-key go together")
		}
		if s.certFile != "" {
			cert, err := tls.LoadX509KeyPair(s.certFile, s.key)
			if err != nil {
				return nil, fmt.Errorf("--tls-client-cert: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s.user != "" {
		m, err := saslMechanism(s.mechanism, s.user, s.pw)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	} else if s.pw != "" {
		return nil, errors.New("--sasl-password without --sasl-user")
	}
	return opts, nil
}

// authFailure explains a first contact that failed on authentication,
// which is no reason to suspect the address; nil for other errors.
func authFailure(err error) error {
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("authentication failed: %w — check --sasl-user, --sasl-password (FERRY_SASL_PASSWORD) and --sasl-mechanism (the user needs a credential for it)", err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("%w — the broker does not offer this --sasl-mechanism here (PLAIN needs TLS unless the broker allows it)", err)
	case errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("%w — the broker does not use SASL on this listener: drop --sasl-user", err)
	}
	return nil
}

func saslMechanism(name, user, password string) (sasl.Mechanism, error) {
	switch strings.ToUpper(name) {
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	case "PLAIN":
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("--sasl-mechanism %q: use SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN", name)
}
