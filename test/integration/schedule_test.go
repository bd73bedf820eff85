package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func deliverIn(d time.Duration) kgo.RecordHeader {
	return kgo.RecordHeader{Key: "ferry-delay-ms", Value: []byte(strconv.FormatInt(d.Milliseconds(), 10))}
}

func deliverAt(at time.Time) kgo.RecordHeader {
	return kgo.RecordHeader{Key: "ferry-deliver-at-ms", Value: []byte(strconv.FormatInt(at.UnixMilli(), 10))}
}

// dueOf is the delivery time a record asked for, from its header.
func dueOf(t *testing.T, r *kgo.Record, sent time.Time) time.Time {
	t.Helper()
	for _, h := range r.Headers {
		ms, _ := strconv.ParseInt(string(h.Value), 10, 64)
		switch h.Key {
		case "ferry-deliver-at-ms":
			return time.UnixMilli(ms)
		case "ferry-delay-ms":
			return sent.Add(time.Duration(ms) * time.Millisecond)
		}
	}
	return time.Time{}
}

// TestKafkaScheduledProduce: on a topic with message.scheduling.enable, a
// franz-go producer's records with ferry-delay-ms / ferry-deliver-at-ms
// appear at their time (never before), the others at once, and a record
// with ferry-cancel drops the scheduled records with its key.
func TestKafkaScheduledProduce(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1, "message.scheduling.enable=true")
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	sent := time.Now()
	produceSync(t, cl,
		&kgo.Record{Key: []byte("now"), Value: []byte("now")},
		&kgo.Record{Key: []byte("b"), Value: []byte("1500ms"), Headers: []kgo.RecordHeader{deliverIn(1500 * time.Millisecond)}},
		&kgo.Record{Key: []byte("a"), Value: []byte("800ms"), Headers: []kgo.RecordHeader{deliverAt(sent.Add(800 * time.Millisecond))}},
		&kgo.Record{Key: []byte("cancel-me"), Value: []byte("cancelled"), Headers: []kgo.RecordHeader{deliverIn(1200 * time.Millisecond)}},
		&kgo.Record{Key: []byte("also-now"), Value: []byte("also-now")},
	)
	produceSync(t, cl, &kgo.Record{Key: []byte("cancel-me"), Headers: []kgo.RecordHeader{{Key: "ferry-cancel", Value: []byte("1")}}})

	cons := newClient(t, srv.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < 4 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		seen := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			if due := dueOf(t, r, sent); !due.IsZero() {
				// Appended after it was due, so fetched after too.
				if seen.Before(due) {
					t.Errorf("%s fetched at %v, before it was due at %v", r.Value, seen, due)
				}
				t.Logf("%s: fetched %v after its due time (includes the fetch wait)", r.Value, seen.Sub(due).Round(time.Millisecond))
			}
		})
	}
	// Wait past the cancelled record's due time: it must not come.
	ctx, cancel := context.WithTimeout(context.Background(), time.Until(sent.Add(2500*time.Millisecond)))
	fs := cons.PollFetches(ctx)
	cancel()
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if want := "[now also-now 800ms 1500ms]"; fmt.Sprint(got) != want {
		t.Fatalf("delivered %v, want %s", got, want)
	}
}

// TestKafkaScheduledProduceBadHeaders: malformed scheduling headers are
// refused with INVALID_RECORD and nothing of the batch is stored; on a
// topic without message.scheduling.enable the headers mean nothing.
func TestKafkaScheduledProduceBadHeaders(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1, "message.scheduling.enable=true")
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordRetries(0), kgo.DisableIdempotentWrite())
	for _, hs := range [][]kgo.RecordHeader{
		{{Key: "ferry-delay-ms", Value: []byte("soon")}},
		{{Key: "ferry-delay-ms", Value: []byte("-5")}},
		{deliverIn(time.Second), deliverAt(time.Now())},
		{{Key: "ferry-cancel", Value: nil}}, // no key to cancel
	} {
		err := cl.ProduceSync(testCtx(t, 10*time.Second), &kgo.Record{Value: []byte("x"), Headers: hs}).FirstErr()
		if !errors.Is(err, kerr.InvalidRecord) {
			t.Errorf("headers %v: err %v, want INVALID_RECORD", hs, err)
		}
	}
	if end := endOffsets(t, adm, topic)[0]; end != 0 {
		t.Fatalf("refused batches stored %d records", end)
	}

	plain := topicName(t)
	createTopic(t, adm, plain, 1)
	produceSync(t, cl, &kgo.Record{Topic: plain, Value: []byte("x"), Headers: []kgo.RecordHeader{deliverIn(time.Hour)}})
	consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), plain, 1)
}

// TestScheduleCancelCLI: `ferry schedule cancel --topic T --key K` drops the
// scheduled records with key K, and refuses a topic without scheduling
// rather than storing a stray record there.
func TestScheduleCancelCLI(t *testing.T) {
	bin := ferryBinary(t) // built before the clock starts
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 2, "message.scheduling.enable=true")
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	sent := time.Now()
	produceSync(t, cl,
		&kgo.Record{Key: []byte("order-1"), Value: []byte("cancelled"), Headers: []kgo.RecordHeader{deliverIn(3 * time.Second)}},
		&kgo.Record{Key: []byte("order-2"), Value: []byte("kept"), Headers: []kgo.RecordHeader{deliverIn(3 * time.Second)}},
	)
	out, err := exec.Command(bin, "schedule", "cancel", "--brokers", srv.Addr(), "--topic", topic, "--key", "order-1").CombinedOutput()
	if err != nil {
		t.Fatalf("ferry schedule cancel: %v\n%s", err, out)
	}
	if time.Since(sent) > 3*time.Second {
		t.Skip("the cancel came after the records were due: machine too slow for this test")
	}
	time.Sleep(time.Until(sent.Add(3500 * time.Millisecond))) // both were due by now
	for _, r := range consumeN(t, srv.Addr(), allFrom(2, kgo.NewOffset().AtStart()), topic, 1) {
		if string(r.Value) != "kept" {
			t.Fatalf("delivered %q after its cancel", r.Value)
		}
	}

	plain := topicName(t)
	createTopic(t, adm, plain, 1)
	out, err = exec.Command(bin, "schedule", "cancel", "--brokers", srv.Addr(), "--topic", plain, "--key", "k").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "message.scheduling.enable") {
		t.Fatalf("cancel on a topic without scheduling: %v\n%s", err, out)
	}
	if end := endOffsets(t, adm, plain)[0]; end != 0 {
		t.Fatalf("refused cancel stored %d records", end)
	}
}

// TestClusterScheduledDelivery: on a 3-node cluster __scheduled is
// replicated, its leader runs the scheduler, and a record scheduled for a
// partition that node also leads is delivered on time. A scheduled produce
// to a partition led by another node is refused with NOT_COORDINATOR (the
// documented limit: the scheduler appends only where it leads).
func TestClusterScheduledDelivery(t *testing.T) {
	procs := startCluster(t, 3)
	cl := newClient(t, procs[0].addr)
	leader, others := scheduledLeader(t, cl)
	create := func(topic string, replicas []int32) { createScheduledTopic(t, cl, topic, replicas) }
	create("sched-here", []int32{leader, others[0], others[1]})
	create("sched-elsewhere", []int32{others[0], leader, others[1]})

	prod := newClient(t, procs[0].addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sent := time.Now()
	produceSync(t, prod, &kgo.Record{Topic: "sched-here", Value: []byte("x"), Headers: []kgo.RecordHeader{deliverIn(time.Second)}})
	got := consumeN(t, procs[0].addr, allFrom(1, kgo.NewOffset().AtStart()), "sched-here", 1)
	if time.Since(sent) < time.Second || string(got[0].Value) != "x" {
		t.Fatalf("delivered %q %v after the send", got[0].Value, time.Since(sent))
	}
	// A scheduled produce reaching a broker that does not lead
	// __scheduled-0 is forwarded to the one that does (before: refused
	// with NOT_COORDINATOR), and delivered back to its partition's leader.
	once := newClient(t, procs[0].addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(0))
	sent = time.Now()
	if err := once.ProduceSync(testCtx(t, 15*time.Second), &kgo.Record{Topic: "sched-elsewhere", Value: []byte("y"), Headers: []kgo.RecordHeader{deliverIn(time.Second)}}).FirstErr(); err != nil {
		t.Fatalf("scheduled produce to a partition led by node %d, __scheduled by node %d: %v", others[0], leader, err)
	}
	got = consumeN(t, procs[0].addr, allFrom(1, kgo.NewOffset().AtStart()), "sched-elsewhere", 1)
	if time.Since(sent) < time.Second || string(got[0].Value) != "y" {
		t.Fatalf("delivered %q %v after the send", got[0].Value, time.Since(sent))
	}
}

// scheduledLeader waits for __scheduled to exist with 3 replicas and
// returns its leader and the other brokers.
func scheduledLeader(t *testing.T, cl *kgo.Client) (int32, []int32) {
	t.Helper()
	adm := kadm.NewClient(cl)
	var md kadm.Metadata
	deadline := time.Now().Add(60 * time.Second) // created once the coordinators' topics exist
	for {
		md = waitTopicMetadataSoft(t, adm, "__scheduled")
		if p, ok := md.Topics["__scheduled"].Partitions[0]; ok && p.Leader >= 0 && len(p.Replicas) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__scheduled not created with 3 replicas: %+v", md.Topics["__scheduled"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	leader := md.Topics["__scheduled"].Partitions[0].Leader
	var others []int32
	for _, b := range md.Brokers {
		if b.NodeID != leader {
			others = append(others, b.NodeID)
		}
	}
	return leader, others
}

// createScheduledTopic creates a one-partition topic with
// message.scheduling.enable on the given replicas (the first leads).
func createScheduledTopic(t *testing.T, cl *kgo.Client, topic string, replicas []int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "message.scheduling.enable", kmsg.StringPtr("true")
	rt.Configs = append(rt.Configs, cfg)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create %s on %v: %v", topic, replicas, err)
	}
	waitTopicMetadata(t, kadm.NewClient(cl), topic)
}

// TestClusterScheduledDeliveryToOtherLeader: a message scheduled for a
// partition that, by the time it falls due, is led by another broker than
// the scheduler's (the partition moved off the scheduler's node) is
// delivered to that leader, once, with its headers. Before the scheduler
// could produce to other brokers it waited there forever.
func TestClusterScheduledDeliveryToOtherLeader(t *testing.T) {
	procs := startCluster(t, 3)
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	leader, others := scheduledLeader(t, cl)
	createScheduledTopic(t, cl, "sched-moves", []int32{leader, others[0]})

	const delay = 20 * time.Second
	prod := newClient(t, procs[0].addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sent := time.Now()
	produceSync(t, prod, &kgo.Record{Topic: "sched-moves", Key: []byte("k"), Value: []byte("later"), Headers: []kgo.RecordHeader{deliverIn(delay)}})
	produceSync(t, prod, &kgo.Record{Topic: "sched-moves", Value: []byte("now")})

	// Move the partition off the scheduler's node before the message is due.
	target := []int32{others[0], others[1]}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("sched-moves", 0, target)
	resp, err := adm.AlterPartitionAssignments(testCtx(t, 15*time.Second), req)
	if err == nil {
		err = resp["sched-moves"][0].Err
	}
	if err != nil {
		t.Fatalf("reassign sched-moves-0 to %v: %v", target, err)
	}
	moved := waitReassigned(t, adm, "sched-moves", target, delay/2)
	if moved.Leader == leader || time.Since(sent) >= delay {
		t.Fatalf("the partition did not move off node %d before the message fell due (leader %d after %v): nothing tested", leader, moved.Leader, time.Since(sent))
	}

	got := consumeN(t, procs[0].addr, allFrom(1, kgo.NewOffset().AtStart()), "sched-moves", 2)
	if string(got[0].Value) != "now" || string(got[1].Value) != "later" || string(got[1].Key) != "k" {
		t.Fatalf("consumed %q %q, want now, later", got[0].Value, got[1].Value)
	}
	if time.Since(sent) < delay || dueOf(t, got[1], sent).IsZero() {
		t.Fatalf("delivered %v after the send (want at least %v), headers %v", time.Since(sent), delay, got[1].Headers)
	}
	// Delivered once: nothing more comes within a few retry rounds.
	if all := consumeAll(t, procs[1].addr, "sched-moves", 1, 3*time.Second); len(all) != 2 {
		t.Fatalf("%d records on sched-moves, want 2 (the scheduled one delivered once)", len(all))
	}
}

// waitTopicMetadataSoft is waitTopicMetadata that returns whatever it got
// when the topic is not there yet.
func waitTopicMetadataSoft(t *testing.T, adm *kadm.Client, topic string) kadm.Metadata {
	t.Helper()
	md, _ := adm.Metadata(testCtx(t, 15*time.Second), topic)
	return md
}

// TestKafkaScheduledProduceInTransaction: a transactional producer's record
// with a scheduling header is refused (a delivery cannot be rolled back);
// its ordinary records go through the transaction as usual.
func TestKafkaScheduledProduceInTransaction(t *testing.T) {
	srv := startBroker(t)
	topic := topicName(t)
	createTopic(t, newAdmin(t, srv.Addr()), topic, 1, "message.scheduling.enable=true")
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic+"-txn"), kgo.RecordRetries(0))
	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("later"), Headers: []kgo.RecordHeader{deliverIn(time.Second)}}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("scheduled record in a transaction: %v, want INVALID_RECORD", err)
	}
	cl.EndTransaction(ctx, kgo.TryAbort)

	ok := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic+"-txn2"))
	if err := ok.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceSync(t, ok, &kgo.Record{Value: []byte("now")})
	if err := ok.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 1, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if string(got[0].Value) != "now" {
		t.Fatalf("read %q", got[0].Value)
	}
}
