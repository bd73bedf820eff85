package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ferry-mq/ferry/internal/meta"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fastRaft halves Raft's default timeouts: quicker elections, still
// calm enough on a loaded two-core machine under -race that leadership
// does not flap (a flap makes an Update fail with "may or may not have
// been applied", which these tests do not expect).
func fastRaft(c *raft.Config) {
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
}

// startQuorum starts n in-process members on loopback.
func startQuorum(t *testing.T, n int) ([]*Store, []Config) {
	t.Helper()
	return startQuorumWith(t, n, func(*Config) {})
}

// startQuorumWith starts n members, each with its config adjusted by adjust.
func startQuorumWith(t *testing.T, n int, adjust func(*Config)) ([]*Store, []Config) {
	t.Helper()
	var q []Voter
	for i := 1; i <= n; i++ {
		q = append(q, Voter{NodeID: int32(i), Addr: freeAddr(t)})
	}
	var stores []*Store
	var cfgs []Config
	for i := 1; i <= n; i++ {
		cfg := Config{NodeID: int32(i), DataDir: t.TempDir(), Quorum: q, ProposeTimeout: 20 * time.Second, Raft: fastRaft}
		adjust(&cfg)
		s, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
		cfgs = append(cfgs, cfg)
	}
	return stores, cfgs
}

func createTopic(name string, leader int32) func(*meta.Image) ([]meta.Record, error) {
	return func(img *meta.Image) ([]meta.Record, error) {
		if _, ok := img.Topic(name); ok {
			return nil, fmt.Errorf("topic %q exists", name)
		}
		return []meta.Record{{Topic: &meta.TopicRecord{Name: name, Partitions: 1, Placement: []meta.Placement{meta.LocalPlacement(leader)}}}}, nil
	}
}

// waitTopic waits until s has applied topic name (the test's timeout
// fails it otherwise).
func waitTopic(t *testing.T, s *Store, name string) {
	t.Helper()
	for {
		ch := s.Changed()
		if _, ok := s.Image().Topic(name); ok {
			return
		}
		<-ch
	}
}

func TestUpdateOnAnyNodeReachesEveryNode(t *testing.T) {
	stores, _ := startQuorum(t, 3)
	for i, s := range stores {
		name := fmt.Sprintf("t%d", i)
		img, err := s.Update(createTopic(name, int32(i+1)))
		if err != nil {
			t.Fatalf("update on node %d: %v", i+1, err)
		}
		// Read your writes: the node that proposed has applied it.
		if top, ok := img.Topic(name); !ok || top.Leader(0) != int32(i+1) {
			t.Fatalf("node %d: returned image lacks %s", i+1, name)
		}
	}
	for _, s := range stores {
		for i := range stores {
			waitTopic(t, s, fmt.Sprintf("t%d", i))
		}
	}
	if _, err := stores[1].Update(createTopic("t0", 2)); err == nil {
		t.Fatal("second create of t0 succeeded")
	}
}

// Each Update builds on the image of the node it runs on, which may lag
// the leader; the FSM rejects a record that does not fit, and Update runs
// fn again on the newer image. Alternating nodes, no increment is lost.
func TestUpdatesFromLaggingNodesAreRetriedNotLost(t *testing.T) {
	stores, _ := startQuorum(t, 3)
	for i := range 12 {
		s := stores[i%3]
		if _, err := s.Update(func(img *meta.Image) ([]meta.Record, error) {
			return []meta.Record{{ProducerID: &meta.ProducerIDBlockRecord{Next: img.NextProducerID + 10}}}, nil
		}); err != nil {
			t.Fatalf("update %d on node %d: %v", i, i%3+1, err)
		}
	}
	// Node 3 made the last update and has applied it.
	if got := stores[2].Image().NextProducerID; got != 120 {
		t.Fatalf("next producer id = %d, want 120", got)
	}
}

func TestSurvivorsElectNewController(t *testing.T) {
	stores, _ := startQuorum(t, 3)
	if _, err := stores[0].Update(createTopic("before", 1)); err != nil {
		t.Fatal(err)
	}
	leader := stores[0].Controller()
	if leader < 1 {
		t.Fatalf("controller = %d after a commit", leader)
	}
	if err := stores[leader-1].Close(); err != nil {
		t.Fatal(err)
	}
	var survivors []*Store
	for i, s := range stores {
		if int32(i+1) != leader {
			survivors = append(survivors, s)
		}
	}
	if _, err := survivors[0].Update(createTopic("after", 1)); err != nil {
		t.Fatalf("update after the leader stopped: %v", err)
	}
	waitTopic(t, survivors[1], "after")
	if c := survivors[1].Controller(); c == leader || c < 1 {
		t.Fatalf("controller = %d, want a survivor", c)
	}
}

// A node restarted after a snapshot rebuilds its image from the snapshot
// and the entries after it.
func TestRestartFromSnapshotAndLog(t *testing.T) {
	stores, cfgs := startQuorum(t, 1)
	s := stores[0]
	if _, err := s.Update(createTopic("in-snapshot", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(createTopic("in-log", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(cfgs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitTopic(t, s, "in-log")
	if _, ok := s.Image().Topic("in-snapshot"); !ok {
		t.Fatal("topic from the snapshot lost")
	}
	if _, err := s.Update(createTopic("after-restart", 1)); err != nil {
		t.Fatal(err)
	}
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM(1, nil)
	entry := func(index uint64, recs ...meta.Record) *raft.Log {
		b, _ := jsonMarshal(recs)
		return &raft.Log{Index: index, Type: raft.LogCommand, Data: b}
	}
	if r := f.Apply(entry(3, meta.Record{Broker: &meta.BrokerRecord{NodeID: 1, Addr: "h:1"}},
		meta.Record{Topic: &meta.TopicRecord{Name: "a", Partitions: 1, Placement: []meta.Placement{meta.LocalPlacement(1)}}})); r != nil {
		t.Fatalf("apply = %v", r)
	}
	// A rejected entry changes nothing but still counts as applied.
	r := f.Apply(entry(4, meta.Record{Topic: &meta.TopicRecord{Name: "a", Partitions: 1}}))
	var rej rejection
	if err, ok := r.(error); !ok || !errors.As(err, &rej) {
		t.Fatalf("duplicate topic: apply = %v, want a rejection", r)
	}
	if f.applied.Load() != 4 {
		t.Fatalf("applied = %d", f.applied.Load())
	}
	snap, _ := f.Snapshot()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM(1, nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if g.applied.Load() != 4 {
		t.Fatalf("restored applied = %d", g.applied.Load())
	}
	want, _ := meta.EncodeImage(f.pub.Load())
	got, _ := meta.EncodeImage(g.pub.Load())
	if !bytes.Equal(want, got) {
		t.Fatalf("restored image differs:\n%s\n%s", want, got)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("{garbage")))); err == nil {
		t.Fatal("garbage snapshot restored")
	}
}

func TestParseQuorum(t *testing.T) {
	q, err := ParseQuorum("1@h:1, 2@h:2,3@[::1]:3")
	if err != nil || len(q) != 3 || q[2].Addr != "[::1]:3" || q[1].NodeID != 2 {
		t.Fatalf("ParseQuorum = %v, %v", q, err)
	}
	for _, bad := range []string{"", "1@h", "x@h:1", "1@h:1,1@h:2", "-1@h:1", "h:1"} {
		if _, err := ParseQuorum(bad); err == nil {
			t.Errorf("ParseQuorum(%q) succeeded", bad)
		}
	}
}

func TestNodeOutsideQuorumIsRefused(t *testing.T) {
	_, err := Open(Config{NodeID: 9, DataDir: t.TempDir(), Quorum: []Voter{{NodeID: 1, Addr: freeAddr(t)}}}, nil)
	if err == nil {
		t.Fatal("node outside the quorum started")
	}
}
