// Package server starts and stops a whole Ferry node: the broker and its
// listeners. `ferry serve` and the tests use it, so both run the same
// wiring.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/kafka"
)

// Server is a running node.
type Server struct {
	Broker *broker.Broker
	kafka  *kafka.Server // plaintext listener; nil when off (--kafka-addr "")
	lis    net.Listener
	// kafkaTLS and tlsLis are the TLS listener, nil when off.
	kafkaTLS *kafka.Server
	tlsLis   net.Listener
	done     chan error
}

// Start binds the Kafka listener, opens the data directory and serves. It
// binds first so that a wrong address fails before anything is written.
func Start(cfg config.Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lis, tlsLis, err := listenAll(cfg)
	if err != nil {
		return nil, err
	}
	first := lis
	if first == nil {
		first = tlsLis
	}
	advertised := cfg.AdvertisedAddr
	if advertised == "" {
		advertised = first.Addr().String()
	}
	// The broker registers this address with the cluster.
	cfg.AdvertisedAddr = advertised
	b, err := broker.New(cfg, logger)
	if err != nil {
		closeAll(lis, tlsLis)
		return nil, err
	}
	s := &Server{Broker: b, lis: lis, tlsLis: tlsLis, done: make(chan error, 2)}
	if err := s.startKafka(cfg, advertised, logger); err != nil {
		closeAll(lis, tlsLis)
		b.Close()
		return nil, err
	}
	return s, nil
}

// Addr is the bound plaintext Kafka listener address, "" when it is off.
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// KafkaStats returns the Kafka listeners' connection and request counts
// (they share their limits and budget).
func (s *Server) KafkaStats() kafka.Stats {
	if s.kafka == nil {
		return s.kafkaTLS.Stats()
	}
	return s.kafka.Stats()
}

// Done reports the listener's end.
func (s *Server) Done() <-chan error { return s.done }

// Close stops serving and closes the broker cleanly.
func (s *Server) Close() error {
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.kafkaTLS != nil {
		s.kafkaTLS.Close()
	}
	return s.Broker.Close()
}

// listen binds addr and says how to fix a failure: the hint about another
// broker only where the port is taken.
func listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err == nil {
		return lis, nil
	}
	var dnsErr *net.DNSError
	hint := "check --kafka-addr: it is host:port, such as 127.0.0.1:9092 or 0.0.0.0:9092 for every interface"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "another process holds the port, maybe another broker: stop it or pick another port with --kafka-addr"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = "the host is no address of this machine: use one of its addresses, 127.0.0.1, or 0.0.0.0 for every interface in --kafka-addr"
	case errors.Is(err, syscall.EACCES):
		hint = "ports below 1024 need privileges: pick a port above 1023 with --kafka-addr"
	case errors.As(err, &dnsErr):
		hint = "the host name does not resolve: check the host in --kafka-addr or give an IP address"
	}
	return nil, fmt.Errorf("listen on %s: %w (%s)", addr, err, hint)
}
