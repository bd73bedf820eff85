package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestScheduledSurvivesSIGKILL: records scheduled through a Kafka producer
// are all delivered after the broker is SIGKILLed — some of them before
// the kill, the rest after the restart — and none is lost. Delivery is
// at-least-once: a record delivered in the instant before the kill may come
// twice (counted and logged, not failed).
func TestScheduledSurvivesSIGKILL(t *testing.T) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	topic := "scheduled-crash"
	createTopic(t, newAdmin(t, proc.addr), topic, 2, "message.scheduling.enable=true")
	cl := newClient(t, proc.addr, kgo.DefaultProduceTopic(topic))

	const n = 300
	start := time.Now()
	var recs []*kgo.Record
	for i := range n {
		// Due from 0.3s to 3.3s after start, spread over both partitions;
		// the last third far enough to be in a bucket not yet loaded.
		due := start.Add(300*time.Millisecond + time.Duration(i)*10*time.Millisecond)
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i)), Headers: []kgo.RecordHeader{deliverAt(due)}})
	}
	produceSync(t, cl, recs...)
	cl.Close()
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	proc.kill()

	proc = startFerry(t, dataDir)
	cons := newClient(t, proc.addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: allFrom(2, kgo.NewOffset().AtStart())}),
		kgo.FetchMaxWait(100*time.Millisecond))
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			if due := dueOf(t, r, start); now.Before(due) {
				t.Errorf("record %s fetched at %v, before its due time %v", r.Value, now, due)
			}
		})
	}
	dups := 0
	for i := range n {
		c := seen[fmt.Sprint(i)]
		if c == 0 {
			t.Errorf("record %d never delivered", i)
		}
		dups += max(c-1, 0)
	}
	t.Logf("%d records delivered, %d delivered twice across the SIGKILL", len(seen), dups)
	if len(seen) != n {
		t.Fatalf("%d of %d records delivered\n%s", len(seen), n, proc.log())
	}
}

// TestClusterSchedulerFailover: on a 3-node cluster the node leading
// __scheduled is SIGKILLed with scheduled records pending; the scheduler
// moves with the leadership to a surviving replica, which delivers every
// record (the target partition has the same ISR order, so the same node
// takes over both). At-least-once: duplicates are counted, not failed.
func TestClusterSchedulerFailover(t *testing.T) {
	procs := startCluster(t, 3)
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	var isr []int32
	deadline := time.Now().Add(60 * time.Second)
	for {
		md := waitTopicMetadataSoft(t, adm, "__scheduled")
		if p, ok := md.Topics["__scheduled"].Partitions[0]; ok && p.Leader >= 0 && len(p.ISR) == 3 {
			isr = p.ISR
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("__scheduled has no full ISR")
		}
		time.Sleep(200 * time.Millisecond)
	}
	const topic = "sched-failover"
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = isr
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	c := kmsg.NewCreateTopicsRequestTopicConfig()
	c.Name, c.Value = "message.scheduling.enable", kmsg.StringPtr("true")
	rt.Configs = append(rt.Configs, c)
	req.Topics = append(req.Topics, rt)
	if resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, resp)
	}
	md := waitTopicMetadata(t, adm, topic)
	if md.Topics[topic].Partitions[0].Leader != isr[0] {
		t.Fatalf("%s led by %d, __scheduled by %d", topic, md.Topics[topic].Partitions[0].Leader, isr[0])
	}

	prod := newClient(t, procs[0].addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const n = 100
	start := time.Now()
	var recs []*kgo.Record
	for i := range n {
		due := start.Add(3*time.Second + time.Duration(i)*20*time.Millisecond)
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(i)), Headers: []kgo.RecordHeader{deliverAt(due)}})
	}
	produceSync(t, prod, recs...)
	prod.Close()
	var survivor *ferryProc
	for i, p := range procs {
		if int32(i+1) == isr[0] {
			p.kill()
		} else if survivor == nil {
			survivor = p
		}
	}

	cons := newClient(t, survivor.addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	seen := map[string]int{}
	deadline = time.Now().Add(60 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("%d of %d delivered after the leader of __scheduled was killed (%d twice), %v after the first was due",
		len(seen), n, dups, time.Since(start.Add(3*time.Second)).Round(100*time.Millisecond))
	if len(seen) != n {
		t.Fatalf("%d of %d records delivered after failover\n%s", len(seen), n, survivor.log())
	}
}
