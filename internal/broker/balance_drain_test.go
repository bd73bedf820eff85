package broker

import (
	"errors"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
)

// A draining broker gets no new replicas: with the only broker of a
// cluster draining, a new topic has nowhere to go.
func TestDrainingBrokerGetsNoNewReplicas(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.NodeID = 4
	cfg.AdvertisedAddr = "127.0.0.1:19092"
	cfg.ControllerQuorum = "4@" + ctrl
	cfg.Balance.Auto = false
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetDraining(7, true, false); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("draining unregistered broker 7: %v, want INVALID_REQUEST", err)
	}
	if err := b.SetDraining(4, true, true); err != nil || b.Draining(4) {
		t.Fatalf("validate only: %v, draining %v", err, b.Draining(4))
	}
	if err := b.SetDraining(4, true, false); err != nil || !b.Draining(4) {
		t.Fatalf("drain 4: %v, draining %v", err, b.Draining(4))
	}
	if _, err := b.CreateTopic("nowhere", 1, nil, false); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("topic created on a draining broker: %v", err)
	}
	if err := b.SetDraining(4, false, false); err != nil || b.Draining(4) {
		t.Fatalf("undrain 4: %v, draining %v", err, b.Draining(4))
	}
	if _, err := b.CreateTopic("somewhere", 1, nil, false); err != nil {
		t.Fatal(err)
	}
}

func TestSingleNodeCannotDrain(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetDraining(cfg.NodeID, true, false); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("single node drained: %v", err)
	}
}
