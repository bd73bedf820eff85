// Package server starts and stops a whole Ferry node: the broker and its
// listeners. `ferry serve` and the tests use it, so both run the same
// wiring.
package server

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/kafka"
)

// Server is a running node.
type Server struct {
	Broker *broker.Broker
	kafka  *kafka.Server
	lis    net.Listener
	done   chan error
}

// Start opens the data directory, binds the Kafka listener and serves.
func Start(cfg config.Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b, err := broker.New(cfg, logger)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.KafkaAddr)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("listen on %s: %w (is another broker running? pick another --kafka-addr)", cfg.KafkaAddr, err)
	}
	advertised := cfg.AdvertisedAddr
	if advertised == "" {
		advertised = lis.Addr().String()
	}
	s := &Server{Broker: b, kafka: kafka.NewServer(b, advertised, logger.With("component", "kafka")), lis: lis, done: make(chan error, 1)}
	go func() { s.done <- s.kafka.Serve(lis) }()
	return s, nil
}

// Addr is the bound Kafka listener address.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// KafkaStats returns the Kafka listener's connection and request counts.
func (s *Server) KafkaStats() kafka.Stats { return s.kafka.Stats() }

// Done reports the listener's end.
func (s *Server) Done() <-chan error { return s.done }

// Close stops serving and closes the broker cleanly.
func (s *Server) Close() error {
	s.kafka.Close()
	return s.Broker.Close()
}
