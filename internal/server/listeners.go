package server

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ferry-mq/ferry/internal/auth"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/kafka"
)

// failedAuthDelay holds back the answer to a failed authentication, as
// Kafka's connection.failed.authentication.delay.ms does by default.
const failedAuthDelay = 100 * time.Millisecond

// listenAll binds the plaintext and TLS Kafka listeners that cfg asks for;
// either may be nil, not both (Validate sees to that).
func listenAll(cfg config.Config) (plain, secure net.Listener, err error) {
	if cfg.KafkaAddr != "" {
		if plain, err = listen(cfg.KafkaAddr); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Security.TLSAddr != "" {
		if secure, err = net.Listen("tcp", cfg.Security.TLSAddr); err != nil {
			closeAll(plain)
			return nil, nil, fmt.Errorf("listen on %s: %w (check --kafka-tls-addr)", cfg.Security.TLSAddr, err)
		}
	}
	return plain, secure, nil
}

func closeAll(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}

// startKafka serves the bound listeners, with SASL when it is required
// and a first user when one is asked for.
func (s *Server) startKafka(cfg config.Config, advertised string, logger *slog.Logger) error {
	sec := cfg.Security
	if name, password, ok := sec.BootstrapUserParts(); ok {
		created, err := s.Broker.EnsureUser(name, password)
		if err != nil {
			return fmt.Errorf("--bootstrap-user: %w", err)
		}
		if created {
			logger.Info("bootstrap user created", "user", name)
		}
	}
	if name, password, ok := sec.InterBrokerUserParts(); ok {
		created, err := s.Broker.EnsureUser(name, password)
		if err != nil {
			return fmt.Errorf("--inter-broker-user: %w", err)
		}
		if created {
			logger.Info("inter-broker user created", "user", name)
		}
	}
	base := kafka.NewServer(s.Broker, advertised, logger.With("component", "kafka"))
	if len(sec.SASLMechanisms) > 0 {
		base.RequireSASL(kafka.SASLConfig{
			Mechanisms:           sec.SASLMechanisms,
			SessionLifetime:      sec.SASLSessionLifetime,
			AllowPlainWithoutTLS: sec.AllowPlainWithoutTLS,
			FailureDelay:         failedAuthDelay,
		})
	}
	if s.tlsLis != nil {
		tc, err := auth.NewTLSConfig(auth.TLSFiles{Cert: sec.TLSCert, Key: sec.TLSKey, ClientCA: sec.TLSClientCA}, logger.With("component", "tls"))
		if err != nil {
			return err
		}
		// Without a plaintext listener the TLS one is the advertised
		// address (--advertised-addr); beside one it advertises its own
		// (--advertised-tls-addr).
		tlsAdvertised := advertised
		if s.lis != nil {
			tlsAdvertised = sec.AdvertisedTLSAddr
			if tlsAdvertised == "" {
				tlsAdvertised = s.tlsLis.Addr().String()
			}
		}
		s.kafkaTLS = base.TLSListener(tlsAdvertised, tc)
		go func() { s.done <- s.kafkaTLS.Serve(s.tlsLis) }()
	}
	if s.lis != nil {
		s.kafka = base
		go func() { s.done <- s.kafka.Serve(s.lis) }()
	}
	return nil
}

// TLSAddr is the bound TLS Kafka listener address, "" when it is off.
func (s *Server) TLSAddr() string {
	if s.tlsLis == nil {
		return ""
	}
	return s.tlsLis.Addr().String()
}
