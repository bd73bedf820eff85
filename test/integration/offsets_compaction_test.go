package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/server"
)

// TestConsumerOffsetsCompaction commits many offsets for a few partitions,
// compacts __consumer_offsets, and checks that only about the latest record
// per key is left while the committed offsets, also after a restart, are
// the last ones.
func TestConsumerOffsetsCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := groupBrokerConfig(dir)
	cfg.OffsetsSegmentBytes = 2048
	cfg.OffsetsTopicPartitions = 1 // the test reads partition 0
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 60*time.Second)
	cl := newClient(t, srv.Addr())
	adm := kadm.NewClient(cl)
	topic := topicName(t)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	const commits = 300
	for i := 1; i <= commits; i++ {
		var os kadm.Offsets
		for p := int32(0); p < 3; p++ {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(i*10) + int64(p), LeaderEpoch: -1})
		}
		resp, err := adm.CommitOffsets(ctx, "compact-group", os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	srv.Broker.Compact()

	perKey := readOffsetCommitKeys(t, srv.Addr(), "compact-group")
	for p := int32(0); p < 3; p++ {
		n := perKey[p]
		// Sealed segments keep one record per key; the active 2 KiB
		// segment can still hold a few more recent ones.
		if n == 0 || n > 25 {
			t.Fatalf("partition %d: %d offset records left of %d commits; compaction did not keep ~1 per key", p, n, commits)
		}
	}
	cl.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	adm2 := kadm.NewClient(newClient(t, srv2.Addr()))
	got, err := adm2.FetchOffsets(ctx, "compact-group")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		o, ok := got.Lookup(topic, p)
		if want := int64(commits*10) + int64(p); !ok || o.At != want {
			t.Fatalf("after compaction and restart, partition %d committed offset = %+v, want %d", p, o, want)
		}
	}
}

// readOffsetCommitKeys reads __consumer_offsets from the start and counts
// the offset-commit records of group per partition.
func readOffsetCommitKeys(t *testing.T, addr, group string) map[int32]int {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	ends, err := adm.ListEndOffsets(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("__consumer_offsets", 0)
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"__consumer_offsets": {0: kgo.NewOffset().AtStart()},
	}))
	counts := map[int32]int{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading __consumer_offsets: %v", ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end.Offset-1 {
				done = true
			}
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil || k.Version > 1 || k.Group != group {
				return
			}
			counts[k.Partition]++
		})
		if done {
			return counts
		}
	}
}
