package cluster

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}

func TestFreePortsBelowEphemeralRange(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p < lowestPort || p >= ephemeralLow() {
			t.Fatalf("port %d: repeated or outside [%d, %d): %v", p, lowestPort, ephemeralLow(), ports)
		}
		seen[p] = true
	}
	more, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range more {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
	}
}

// The harness's faults do what they say to the process: a stopped node
// does not answer, a continued one does, a killed one is gone and a
// restarted one serves again at the same address from the same data dir.
func TestClusterFaults(t *testing.T) {
	c := Start(t, Options{Nodes: 3})
	if got := len(c.Bootstrap()); got != 3 {
		t.Fatalf("bootstrap lists %d nodes", got)
	}
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	if !c.Node(1).Paused() || !c.Node(1).Running() {
		t.Fatal("a stopped node should be paused and running")
	}
	if answers(c.Node(1).KafkaAddr, 3*time.Second) {
		t.Fatal("a SIGSTOPped node answered")
	}
	if err := c.Cont(1); err != nil {
		t.Fatal(err)
	}
	if !answers(c.Node(1).KafkaAddr, time.Minute) {
		t.Fatal("a SIGCONTed node did not answer")
	}

	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	if c.Node(2).Running() {
		t.Fatal("killed node still running")
	}
	if err := c.Kill(2); err == nil {
		t.Fatal("killing a dead node succeeded")
	}
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(2); err == nil {
		t.Fatal("restarting a running node succeeded")
	}
	if !answers(c.Node(2).KafkaAddr, time.Minute) {
		t.Fatal("restarted node does not answer")
	}
	// Killed while it starts, then restarted.
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Launch(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Died(); err != nil {
		t.Fatal(err)
	}
	if err := c.ShutdownAll(); err != nil {
		t.Fatal(err)
	}
	for i := range c.Len() {
		if c.Node(i).Running() {
			t.Fatalf("node %d running after ShutdownAll", i+1)
		}
	}
}

// answers reports whether a broker answers a request within d (a paused
// process still accepts TCP connections: the kernel completes the
// handshake, so only a request tells).
func answers(addr string, d time.Duration) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		if cl.Ping(ctx) == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
