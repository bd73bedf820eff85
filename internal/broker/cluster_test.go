package broker

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/cluster"
	"github.com/ferry-mq/ferry/internal/config"
)

// A data dir is never opened in the other mode: the start-up sweep would
// remove the partition directories of every topic the other mode's
// metadata holds.
func TestDataDirModeMismatchIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ln.Addr().String()
	ln.Close()

	single := config.Default()
	single.DataDir = t.TempDir()
	b, err := New(single, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateTopic("kept", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	b.Close()
	clustered := single
	clustered.NodeID = 1
	clustered.ControllerQuorum = "1@" + ctrl
	if _, err := New(clustered, nil); err == nil || !strings.Contains(err.Error(), "single node's metadata") {
		t.Fatalf("cluster start on a single node's data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(single.DataDir, "kept-0")); err != nil {
		t.Fatalf("partition dir gone after the refused start: %v", err)
	}

	other := config.Default()
	other.DataDir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(other.DataDir, cluster.RaftDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(other, nil); err == nil || !strings.Contains(err.Error(), "--controller-quorum") {
		t.Fatalf("single-node start on a cluster data dir: %v", err)
	}
}

// A quorum of one in process: the broker registers, places partitions on
// the registered brokers, and keeps working across a restart from the
// Raft log and snapshot.
func TestClusterOfOneInProcess(t *testing.T) {
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
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := b.Controller(); c != 4 {
		t.Fatalf("controller = %d, want 4", c)
	}
	if bs := b.Brokers(); len(bs) != 1 || bs[0].NodeID != 4 || bs[0].Addr != cfg.AdvertisedAddr {
		t.Fatalf("brokers = %+v", bs)
	}
	top, err := b.CreateTopic("spread", 3, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		if top.Leader(i) != 4 {
			t.Fatalf("partition %d led by %d", i, top.Leader(i))
		}
		if _, err := b.Partition("spread", i); err != nil {
			t.Fatalf("partition %d: %v", i, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Partition("spread", 2); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if _, err := b.GroupCoordinatorFor("g"); err != nil {
		t.Fatalf("the only broker runs no group coordinator: %v", err)
	}
	if _, err := b.TxnCoordinatorFor("t"); err != nil {
		t.Fatalf("the only broker runs no transaction coordinator: %v", err)
	}
}
