// Package server starts and stops a whole Ferry node: the broker, its Kafka
// listeners and its HTTP listener (metrics, health, console). `ferry serve`
// and the tests use it, so both run the same wiring.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/httpapi"
	"github.com/ferry-mq/ferry/internal/kafka"
	"github.com/ferry-mq/ferry/internal/metrics"
	"github.com/ferry-mq/ferry/internal/metrics/prom"
	"github.com/ferry-mq/ferry/internal/rocketmq"
)

// Server is a running node.
type Server struct {
	Broker *broker.Broker
	cfg    config.Config
	logger *slog.Logger
	kafka  *kafka.Server // plaintext listener; nil when off (--kafka-addr "")
	lis    net.Listener
	// kafkaTLS and tlsLis are the TLS listener, nil when off.
	kafkaTLS *kafka.Server
	tlsLis   net.Listener
	http     *httpapi.Server // nil when --http-addr is empty
	// rocketmq and rocketLis are the RocketMQ listener, nil when off
	// (--rocketmq-addr "").
	rocketmq  *rocketmq.Server
	rocketLis net.Listener
	done      chan error
}

// Start binds the listeners, opens the data directory and serves: Listen
// then Open.
func Start(cfg config.Config, logger *slog.Logger) (*Server, error) {
	s, err := Listen(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := s.Open(); err != nil {
		return nil, err
	}
	return s, nil
}

// Listen binds the Kafka and HTTP listeners before anything is written, so
// that a wrong address fails first, and starts serving HTTP: /healthz says
// the process is alive and /readyz says 503 until Open is done. With an
// HTTP address and no cfg.Metrics, metrics go to a Prometheus registry
// served at /metrics.
func Listen(cfg config.Config, logger *slog.Logger) (*Server, error) {
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
	s := &Server{cfg: cfg, logger: logger, lis: lis, tlsLis: tlsLis, done: make(chan error, 3)}
	if cfg.RocketMQ.Addr != "" {
		if s.rocketLis, err = net.Listen("tcp", cfg.RocketMQ.Addr); err != nil {
			closeAll(lis, tlsLis)
			return nil, fmt.Errorf("listen on %s: %w (check --rocketmq-addr)", cfg.RocketMQ.Addr, err)
		}
	}
	if cfg.HTTPAddr != "" {
		var metricsHandler http.Handler
		if s.cfg.Metrics == nil {
			reg := prom.New()
			s.cfg.Metrics, metricsHandler = reg, reg.Handler()
		}
		s.http, err = httpapi.Listen(cfg.HTTPAddr, metricsHandler, logger.With("component", "http"))
		if err != nil {
			closeAll(lis, tlsLis, s.rocketLis)
			return nil, err
		}
		s.cfg.Metrics.Register(metrics.SourceFunc(func(emit metrics.Emit) {
			emit(metrics.Ready, boolValue(s.http.Ready()))
		}))
		s.http.SetNotReady("opening the data directory and recovering partition logs")
	}
	if s.cfg.AdvertisedAddr == "" {
		first := lis
		if first == nil {
			first = tlsLis
		}
		// The broker registers this address with the cluster.
		s.cfg.AdvertisedAddr = first.Addr().String()
	}
	return s, nil
}

// Open opens the broker (recovering its logs and, in a cluster,
// registering with the controller) and serves Kafka; the node is ready
// when it returns. A failure closes the listeners.
func (s *Server) Open() error {
	b, err := broker.New(s.cfg, s.logger)
	if err != nil {
		s.closeListeners()
		return err
	}
	s.Broker = b
	if err := s.startKafka(s.cfg, s.cfg.AdvertisedAddr, s.logger); err != nil {
		s.closeListeners()
		b.Close()
		return err
	}
	if s.rocketLis != nil {
		advertised := s.cfg.RocketMQ.AdvertisedAddr
		if advertised == "" {
			advertised = s.rocketLis.Addr().String()
		}
		s.rocketmq = rocketmq.NewServer(b, advertised, s.logger.With("component", "rocketmq"))
		go func() { s.done <- s.rocketmq.Serve(s.rocketLis) }()
	}
	// The console mounts here, once the broker it shows exists:
	// s.Mount(console.New(...)).
	if s.http != nil {
		s.http.SetReady()
	}
	return nil
}

func (s *Server) closeListeners() {
	closeAll(s.lis, s.tlsLis, s.rocketLis)
	if s.http != nil {
		s.http.Close()
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Addr is the bound plaintext Kafka listener address, "" when it is off.
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// RocketMQAddr is the bound RocketMQ listener address, "" when it is off.
func (s *Server) RocketMQAddr() string {
	if s.rocketLis == nil {
		return ""
	}
	return s.rocketLis.Addr().String()
}

// RocketMQ is the RocketMQ front, nil when it is off.
func (s *Server) RocketMQ() *rocketmq.Server { return s.rocketmq }

// HTTPAddr is the bound HTTP listener address, "" when it is off.
func (s *Server) HTTPAddr() string {
	if s.http == nil {
		return ""
	}
	return s.http.Addr()
}

// Mount serves h at "/" of the HTTP listener (the console and its /api/);
// without an HTTP listener it does nothing.
func (s *Server) Mount(h http.Handler) {
	if s.http != nil {
		s.http.Mount(h)
	}
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

// Close stops serving and closes the broker cleanly. /readyz says 503 from
// the start of a shutdown.
func (s *Server) Close() error {
	if s.http != nil {
		s.http.SetNotReady("shutting down")
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.kafkaTLS != nil {
		s.kafkaTLS.Close()
	}
	if s.rocketmq != nil {
		s.rocketmq.Close()
	}
	if s.Broker == nil { // Open was not called
		closeAll(s.lis, s.tlsLis, s.rocketLis)
	}
	var err error
	if s.Broker != nil {
		err = s.Broker.Close()
	}
	if s.http != nil {
		s.http.Close()
	}
	return err
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
