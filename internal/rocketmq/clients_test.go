package rocketmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// eventually polls cond until it holds, failing after 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeartbeatRegistersProducer: a real producer's heartbeat puts its
// group's connection in the registry (what a transaction check-back is
// sent on), and its shutdown takes it out.
func TestHeartbeatRegistersProducer(t *testing.T) {
	s := startNode(t, nil)
	p := newProducer(t, s, "pg-registry")
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("reg", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	reg := s.RocketMQ().Clients()
	eventually(t, "the producer's heartbeat", func() bool { return len(reg.ProducerConns("pg-registry")) == 1 })
	if n := len(reg.ProducerConns("other")); n != 0 {
		t.Fatalf("group other has %d producers", n)
	}
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the producer to leave the registry", func() bool { return len(reg.ProducerConns("pg-registry")) == 0 })
}
