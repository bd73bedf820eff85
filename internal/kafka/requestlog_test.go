package kafka_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
)

// slowSyncFS delays every fsync of files whose path holds match.
type slowSyncFS struct {
	vfs.FS
	match string
	delay time.Duration
}

type slowSyncFile struct {
	vfs.File
	delay time.Duration
}

func (f slowSyncFile) Sync() error {
	time.Sleep(f.delay)
	return f.File.Sync()
}

func (s slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := s.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.Contains(name, s.match) {
		return f, err
	}
	return slowSyncFile{File: f, delay: s.delay}, nil
}

func (l *logCapture) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// TestSlowRequestLog: a Produce slower than --slow-request (its fsync is
// held) is logged at WARN with its API, client id and time; a Fetch that
// long-polls, and a JoinGroup that waits out the initial rebalance delay,
// for longer than the threshold are not (waiting for data or for other
// members is not slowness), and every request gets a DEBUG line with
// stable keys.
func TestSlowRequestLog(t *testing.T) {
	const slow = 300 * time.Millisecond
	b := startBroker(t, func(c *config.Config) {
		c.SlowRequest = slow
		c.TopicDefaults["flush.policy"] = "always"
		c.LogFS = slowSyncFS{FS: vfs.Default, match: "slowtopic", delay: 2 * slow}
		c.GroupInitialRebalanceDelay = 3 * slow
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ClientID("slow-test"), kgo.DefaultProduceTopic("slowtopic"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	create := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"slowtopic", "idle"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		create.Topics = append(create.Topics, rt)
	}
	if _, err := create.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A fetch of an empty partition that waits 3 thresholds for data.
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 12
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = int32((3 * slow).Milliseconds())
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "idle"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	start := time.Now()
	if _, err := fetch.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 3*slow {
		t.Fatalf("the fetch returned after %v, before its max wait: the test proves nothing", took)
	}

	// A group's first JoinGroup waits out the initial rebalance delay.
	assigned := make(chan struct{})
	member, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ClientID("slow-member"), kgo.ConsumerGroup("slow-group"), kgo.ConsumeTopics("idle"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { close(assigned) }))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	start = time.Now()
	go func() {
		for ctx.Err() == nil && !member.PollFetches(ctx).IsClientClosed() {
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the group member got no assignment")
	}
	if took := time.Since(start); took < 3*slow {
		t.Fatalf("joined after %v, before the rebalance delay: the test proves nothing", took)
	}
	if got := b.logs.matching("slow request", "api=JoinGroup"); len(got) != 0 {
		t.Errorf("a JoinGroup waiting for the rebalance delay was logged as slow:\n%s", strings.Join(got, "\n"))
	}
	if got := b.logs.matching("DEBUG request", "api=JoinGroup", "client_id=slow-member"); len(got) == 0 {
		t.Errorf("no DEBUG line for the JoinGroup")
	}

	if got := b.logs.matching("WARN slow request", "api=Produce", "client_id=slow-test", "duration="); len(got) != 1 {
		t.Errorf("slow produce: %d WARN lines with api, client id and duration, want 1:\n%s", len(got), strings.Join(b.logs.matching("slow request"), "\n"))
	}
	if got := b.logs.matching("slow request", "api=Fetch"); len(got) != 0 {
		t.Errorf("a long-polled fetch was logged as slow:\n%s", strings.Join(got, "\n"))
	}
	if got := b.logs.matching("DEBUG request", "api=Fetch", "version=12", "client_id=slow-test", "duration=", "waited="); len(got) != 1 {
		t.Errorf("fetch: %d DEBUG request lines, want 1:\n%s", len(got), strings.Join(b.logs.matching("DEBUG request"), "\n"))
	}
}
