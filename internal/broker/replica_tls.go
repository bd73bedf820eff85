package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/ferry-mq/ferry/internal/config"
)

// interBrokerTLS returns the TLS client config a follower dials leaders
// with, or nil when the cluster's brokers have a plaintext listener (the
// address each registers is then the plaintext one). A node without one
// registers its TLS listener, and so do its peers (nodes are configured
// alike): it verifies them with --inter-broker-tls-ca and presents its
// own certificate, which a listener requiring client certificates checks.
func (b *Broker) interBrokerTLS(addr string) (*tls.Config, error) {
	sec := b.cfg.Security
	if b.cfg.KafkaAddr != "" || sec.InterBrokerTLSCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(sec.InterBrokerTLSCA)
	if err != nil {
		return nil, fmt.Errorf("inter-broker TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("inter-broker TLS CA %s holds no PEM certificate", sec.InterBrokerTLSCA)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: host}
	if sec.TLSCert != "" && sec.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(sec.TLSCert, sec.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("inter-broker TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// controllerTLS returns the TLS configs of the controller port: with
// --inter-broker-tls-ca, Raft, forwarded proposals and heartbeats run over
// mutual TLS — each node presents its --tls-cert and accepts only peers
// whose certificate that CA signed — so only the cluster's own nodes take
// part. Without it the port is plaintext (nil, nil).
func controllerTLS(cfg config.Config) (server, client *tls.Config, err error) {
	sec := cfg.Security
	if sec.InterBrokerTLSCA == "" {
		return nil, nil, nil
	}
	pem, err := os.ReadFile(sec.InterBrokerTLSCA)
	if err != nil {
		return nil, nil, fmt.Errorf("inter-broker TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("inter-broker TLS CA %s holds no PEM certificate", sec.InterBrokerTLSCA)
	}
	cert, err := tls.LoadX509KeyPair(sec.TLSCert, sec.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("controller port TLS: --tls-cert/--tls-key: %w", err)
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	client = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return server, client, nil
}
