package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestCoordinatorPartitionIsKafkas: ids hash as Java's String.hashCode,
// and Integer.MIN_VALUE (whose Math.abs is negative) maps to 0, as in
// Kafka's Utils.abs, so Kafka tools find the same partition.
func TestCoordinatorPartitionIsKafkas(t *testing.T) {
	for _, c := range []struct {
		id   string
		hash int32
	}{
		{"", 0},
		{"hello", 99162322},
		{"Aa", 2112},
		{"BB", 2112},
		{"polygenelubricants", -1 << 31},
		{"é", 0xe9},
		{"😀", 0xD83D*31 + 0xDE00}, // a surrogate pair in UTF-16
	} {
		if got := javaStringHash(c.id); got != c.hash {
			t.Errorf("javaStringHash(%q) = %d, want %d", c.id, got, c.hash)
		}
	}
	if p := CoordinatorPartition("polygenelubricants", 50); p != 0 {
		t.Errorf("MIN_VALUE hash: partition %d, want 0", p)
	}
	if p := CoordinatorPartition("hello", 50); p != 99162322%50 {
		t.Errorf("partition of hello = %d, want %d", p, 99162322%50)
	}
	// A negative hash: abs, then modulo.
	neg := "my-group"
	h := javaStringHash(neg)
	if h >= 0 {
		t.Fatalf("pick an id with a negative hash; %q hashes to %d", neg, h)
	}
	if p := CoordinatorPartition(neg, 50); p != (-h)%50 {
		t.Errorf("partition of %q = %d, want %d", neg, p, (-h)%50)
	}
}

// TestCoordinatorShardsFollowLeadership: a single node leads every
// partition of both internal topics and runs a shard for each; ids on
// different partitions get different coordinators; a shard whose
// partition is no longer led here answers NOT_COORDINATOR and its
// coordinator is closed.
func TestCoordinatorShardsFollowLeadership(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.OffsetsTopicPartitions, cfg.TxnTopicPartitions = 4, 3
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := len(b.GroupCoordinators()); n != 4 {
		t.Fatalf("%d group shards, want 4", n)
	}
	if n := len(b.TxnCoordinators()); n != 3 {
		t.Fatalf("%d txn shards, want 3", n)
	}
	// Two groups on different partitions.
	var ids []string
	seen := map[int32]bool{}
	for i := 0; len(ids) < 2; i++ {
		id := string(rune('a' + i))
		if p := CoordinatorPartition(id, 4); !seen[p] {
			seen[p] = true
			ids = append(ids, id)
		}
	}
	c0, err := b.GroupCoordinatorFor(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	c1, err := b.GroupCoordinatorFor(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if c0 == c1 {
		t.Fatalf("groups %q and %q on different partitions share a coordinator", ids[0], ids[1])
	}

	// Lose the leadership of ids[0]'s partition: as if another broker
	// took it over.
	part := CoordinatorPartition(ids[0], 4)
	p, err := b.Partition(ConsumerOffsetsTopic, part)
	if err != nil {
		t.Fatal(err)
	}
	p.repl.leading.Store(false)
	b.syncCoordinators()
	if _, err := b.GroupCoordinatorFor(ids[0]); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("after losing the leadership: err = %v, want NOT_COORDINATOR", err)
	}
	if _, err := b.GroupCoordinatorFor(ids[1]); err != nil {
		t.Fatalf("the other partition's group: %v", err)
	}
	b.coords.closing.Wait()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = ids[0], "m", 1
	if resp := c0.Heartbeat(req); resp.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("the unloaded coordinator answers %d, want NOT_COORDINATOR", resp.ErrorCode)
	}
	// Leading again loads a fresh shard.
	p.repl.leading.Store(true)
	b.syncCoordinators()
	b.coords.closing.Wait()
	c0b, err := b.GroupCoordinatorFor(ids[0])
	if err != nil || c0b == c0 {
		t.Fatalf("after leading again: %v (same coordinator: %v)", err, c0b == c0)
	}
}

// TestGroupTopicsVersionMovesOnlyWithTopics: the topics version the
// KIP-848 coordinators compare changes when a topic is created or grown,
// not on other metadata changes (config changes here), and the list is
// built once per metadata image, not per heartbeat.
func TestGroupTopicsVersionMovesOnlyWithTopics(t *testing.T) {
	b := newTestBroker(t)
	v0 := b.groupTopicsVersion()
	if v := b.groupTopicsVersion(); v != v0 {
		t.Fatalf("version moved from %d to %d with nothing changed", v0, v)
	}
	if _, err := b.CreateTopic("grow", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	v1 := b.groupTopicsVersion()
	if v1 == v0 {
		t.Fatal("version did not move when a topic was created")
	}
	two := "2"
	if err := b.AlterTopicConfigs("grow", []ConfigChange{{Key: "min.insync.replicas", Value: &two}}, false, false); err != nil {
		t.Fatal(err)
	}
	if v := b.groupTopicsVersion(); v != v1 {
		t.Fatalf("a config change moved the version from %d to %d", v1, v)
	}
	if err := b.CreatePartitions("grow", 3, false); err != nil {
		t.Fatal(err)
	}
	if v := b.groupTopicsVersion(); v == v1 {
		t.Fatal("version did not move when a topic grew")
	}
	found := false
	for _, ti := range b.groupTopics() {
		if ti.Name == "grow" {
			found = ti.Partitions == 3
		}
	}
	if !found {
		t.Fatalf("topic list %+v lacks grow with 3 partitions", b.groupTopics())
	}
}

// TestCoordinatorLoadInProgress: while a shard loads its partition, its
// ids answer COORDINATOR_LOAD_IN_PROGRESS and the listings say so.
func TestCoordinatorLoadInProgress(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.OffsetsTopicPartitions, cfg.TxnTopicPartitions = 2, 2
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.CoordinatorsLoading() {
		t.Fatal("New returned before its shards loaded")
	}
	part := CoordinatorPartition("g", 2)
	loading := &groupShard{loaded: make(chan struct{})}
	b.coords.mu.Lock()
	old := b.coords.groups[part]
	b.coords.groups[part] = loading
	b.coords.publishLocked()
	b.coords.mu.Unlock()
	if _, err := b.GroupCoordinatorFor("g"); !errors.Is(err, kerr.CoordinatorLoadInProgress) {
		t.Fatalf("while loading: err = %v, want COORDINATOR_LOAD_IN_PROGRESS", err)
	}
	if !b.CoordinatorsLoading() {
		t.Fatal("CoordinatorsLoading is false while a shard loads")
	}
	b.coords.mu.Lock()
	b.coords.groups[part] = old
	b.coords.publishLocked()
	b.coords.mu.Unlock()
	if _, err := b.GroupCoordinatorFor("g"); err != nil {
		t.Fatalf("loaded: %v", err)
	}
}
