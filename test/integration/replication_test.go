package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A replicated partition keeps taking acks=all writes when a follower dies
// (the leader drops it from the ISR after --replica-lag-time-max), the
// follower catches up after a restart and rejoins the ISR, and then all
// three replicas hold byte-identical logs. Every acknowledged record is
// read back exactly once.
func TestReplicationFollowerLossAndCatchUp(t *testing.T) {
	procs, args := startClusterWith(t, 3, "--replica-lag-time-max", "2s")
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createReplicatedTopic(t, adm, topic, 1)
	md := waitTopicMetadata(t, adm, topic)
	p0 := md.Topics[topic].Partitions[0]
	if len(p0.Replicas) != 3 || len(p0.ISR) != 3 {
		t.Fatalf("partition 0: replicas %v, ISR %v; want 3 of each", p0.Replicas, p0.ISR)
	}
	leader := p0.Leader
	var follower int32 = -1
	for _, r := range p0.Replicas {
		if r != leader {
			follower = r
			break
		}
	}

	cl := newClient(t, procs[0].addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	produce := func(from, n int) {
		t.Helper()
		var rs []*kgo.Record
		for i := from; i < from+n; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		if err := cl.ProduceSync(testCtx(t, 60*time.Second), rs...).FirstErr(); err != nil {
			t.Fatalf("produce %d..%d: %v", from, from+n, err)
		}
	}
	produce(0, 500)

	procs[follower-1].kill()
	start := time.Now()
	produce(500, 300)
	t.Logf("acks=all produce with a dead follower took %v (the ISR shrink)", time.Since(start)) // waits for the ISR to drop the dead follower
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 2 && !slices.Contains(isr, follower) })

	restarted, err := tryStartFerry(t, procs[follower-1].dataDir, args[follower-1]...)
	if err != nil {
		t.Fatal(err)
	}
	procs[follower-1] = restarted
	produce(800, 200)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })

	got := consumeValues(t, procs[leader-1].addr, topic, 1000)
	for i, v := range got {
		if want := fmt.Sprintf("v%05d", i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}

	// Let the followers fetch the last batch, then compare the replicas.
	time.Sleep(time.Second)
	for _, p := range procs {
		p.stop()
	}
	var first []byte
	for i, p := range procs {
		data := partitionBytes(t, p.dataDir, topic, 0)
		if i == 0 {
			if len(data) == 0 {
				t.Fatalf("node 1 holds no data for %s-0", topic)
			}
			first = data
			continue
		}
		if !bytes.Equal(first, data) {
			t.Fatalf("node %d's copy of %s-0 (%d bytes) differs from node 1's (%d bytes)", i+1, topic, len(data), len(first))
		}
	}
}

func waitISR(t *testing.T, adm *kadm.Client, topic string, ok func([]int32) bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		md, err := adm.Metadata(testCtx(t, 10*time.Second), topic)
		if err == nil {
			if p, found := md.Topics[topic].Partitions[0]; found && ok(p.ISR) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ISR of %s-0 never reached the expected set: %+v (%v)", topic, md.Topics[topic].Partitions[0], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func consumeValues(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	if len(out) != n {
		t.Fatalf("consumed %d records, want %d", len(out), n)
	}
	return out
}

// partitionBytes concatenates a partition's segment files in offset order
// (a cleanly stopped log has no preallocated tail).
func partitionBytes(t *testing.T, dataDir, topic string, index int) []byte {
	t.Helper()
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, index))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // zero-padded base offsets
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// createReplicatedTopic creates topic with replication factor 3.
func createReplicatedTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), partitions, 3, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s with replication factor 3: %v / %v (%s)", topic, err, resp.Err, resp.ErrMessage)
	}
	// Every partition's leader has applied the topic (a broker learns
	// of it a heartbeat after the controller): a client's first produce
	// does not meet UNKNOWN_TOPIC_OR_PARTITION, which franz-go retries
	// only a few times.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(testCtx(t, 10*time.Second), topic)
		if err == nil && ends.Error() == nil && len(ends[topic]) == int(partitions) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders of %s never answered for it: %v / %v", topic, err, ends.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
