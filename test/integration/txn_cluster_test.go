package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Transactions on a three-broker cluster. The input and output topics have
// six partitions each, led by all three brokers, so every transaction
// spans brokers: its records are verified by partition leaders that are
// not the transaction coordinator (KIP-890, AddPartitionsToTxn v4
// verify-only), its markers reach them in WriteTxnMarkers, and its offsets
// are pending in the group coordinator until the marker.
//
// Two members consume, transform and produce with franz-go's
// GroupTransactSession while the broker hosting the transaction
// coordinator is SIGKILLed for good. The coordinator moves to another
// replica of its __transaction_state partition, which loads it and
// completes or aborts whatever was in flight; the read_committed output
// must equal the input exactly once.
func TestClusterExactlyOnceAcrossCoordinatorSIGKILL(t *testing.T) {
	procs, _ := startClusterWith(t, 3)
	adm := newAdmin(t, procs[0].addr)
	in, out := topicName(t), topicName(t)
	createReplicatedTopic(t, adm, in, 6)
	createReplicatedTopic(t, adm, out, 6)

	const n = 4000
	seeds := kgo.SeedBrokers(procs[0].addr, procs[1].addr, procs[2].addr)
	plain := newClient(t, procs[0].addr, seeds)
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i % 60)), Value: []byte(strconv.Itoa(i))})
	}
	produceSync(t, plain, rs...)

	group := in + "-g"
	txnIDs := []string{group + "-txn-a", group + "-txn-b"}
	var committed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	for _, id := range txnIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runEOSMember(ctx, t, id, group, in, out, seeds, &committed, n)
		}()
	}

	// Kill the transaction coordinator once a third is through.
	for committed.Load() < n/3 {
		if ctx.Err() != nil {
			t.Fatalf("only %d records committed before the kill", committed.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	coords := adm.FindTxnCoordinators(testCtx(t, 15*time.Second), txnIDs[0])
	c, ok := coords[txnIDs[0]]
	if !ok || c.Err != nil {
		t.Fatalf("find the transaction coordinator: %v %v", ok, c.Err)
	}
	victim := c.NodeID
	t.Logf("SIGKILL broker %d (transaction coordinator of %s) after %d committed records", victim, txnIDs[0], committed.Load())
	killed := time.Now()
	procs[victim-1].kill()
	survivor := procs[0].addr
	if victim == 1 {
		survivor = procs[1].addr
	}
	// The transaction coordinator moves to a surviving replica of its
	// __transaction_state partition; the killed broker stays down.
	sadm := newAdmin(t, survivor)
	for moved := time.Now().Add(30 * time.Second); ; {
		c := sadm.FindTxnCoordinators(testCtx(t, 15*time.Second), txnIDs[0])[txnIDs[0]]
		if c.Err == nil && c.NodeID != victim {
			t.Logf("transaction coordinator of %s on broker %d %v after the kill", txnIDs[0], c.NodeID, time.Since(killed).Round(10*time.Millisecond))
			break
		}
		if time.Now().After(moved) {
			t.Fatalf("the transaction coordinator did not move off the killed broker %d: %+v", victim, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := consumeAll(t, survivor, out, 6, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if len(got) >= n || time.Now().After(deadline) {
			t.Logf("all %d records through %v after the kill", n, time.Since(killed).Round(100*time.Millisecond))
			cancel()
			wg.Wait()
			checkExactlyOnce(t, "read_committed output", got, n)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// runEOSMember is one member of the group: it consumes in, writes each
// record to out with "out-" before its value, and commits both in one
// transaction, until ctx ends. A session that fails (its broker died
// mid-request, its producer was fenced) is closed and started again, as a
// crashed process would be.
func runEOSMember(ctx context.Context, t *testing.T, txnID, group, in, out string, seeds kgo.Opt, committed *atomic.Int64, n int64) {
	for ctx.Err() == nil && committed.Load() < n {
		opts := append(eosSessionOpts("", group, in), seeds, kgo.TransactionalID(txnID),
			kgo.TransactionTimeout(10*time.Second), kgo.RequestTimeoutOverhead(5*time.Second))
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			t.Errorf("session %s: %v", txnID, err)
			return
		}
		err = eosLoop(ctx, sess, out, committed, n)
		sess.Close()
		if err != nil && ctx.Err() == nil {
			t.Logf("session %s restarts after: %v", txnID, err)
		}
	}
}

func eosLoop(ctx context.Context, sess *kgo.GroupTransactSession, out string, committed *atomic.Int64, n int64) error {
	for ctx.Err() == nil && committed.Load() < n {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := sess.PollRecords(pctx, 100)
		cancel()
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		perr := produceOut(ectx, sess, out, fs)
		ok, err := sess.End(ectx, kgo.TransactionEndTry(perr == nil))
		cancel()
		if err != nil {
			return fmt.Errorf("end (produce error %v): %w", perr, err)
		}
		if ok {
			committed.Add(int64(fs.NumRecords()))
		}
	}
	return nil
}

// A transactional batch that reaches a partition leader after its
// transaction ended (a retry delayed in the network, a zombie) is refused
// with INVALID_TXN_STATE: the leader, not the transaction coordinator's
// broker, verifies it with the coordinator (KIP-890, AddPartitionsToTxn v4
// verify-only) before the transaction's first append there. Appended, it
// would open a transaction no coordinator ends, and read_committed
// consumers of the partition would stall behind it for good.
func TestClusterLateTransactionalProduceIsRefused(t *testing.T) {
	procs, _ := startClusterWith(t, 3)
	adm := newAdmin(t, procs[0].addr)
	topic := topicName(t)
	createReplicatedTopic(t, adm, topic, 6)
	id := topic + "-txn"
	seeds := kgo.SeedBrokers(procs[0].addr, procs[1].addr, procs[2].addr)
	ctx := testCtx(t, 60*time.Second)

	coords := adm.FindTxnCoordinators(ctx, id)
	coord, ok := coords[id]
	if !ok || coord.Err != nil {
		t.Fatalf("find the transaction coordinator: %v %v", ok, coord.Err)
	}
	md := waitTopicMetadata(t, adm, topic)
	partition, leader := int32(-1), int32(-1)
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		if p.Leader != coord.NodeID {
			partition, leader = p.Partition, p.Leader
			break
		}
	}
	if partition < 0 {
		t.Fatalf("every partition is led by the coordinator %d", coord.NodeID)
	}
	// EndTxn v4 keeps the epoch: the late batch finds no open
	// transaction. v5 (KIP-890 part 2) bumps it: the late batch is from a
	// fenced epoch.
	v4 := newClient(t, procs[0].addr, seeds, kgo.MaxVersions(kversion.V3_6_0()))
	lateProduce(ctx, t, v4, adm, id, topic, partition, leader, kerr.InvalidTxnState)
	lateProduce(ctx, t, newClient(t, procs[0].addr, seeds), adm, id, topic, partition, leader, kerr.InvalidProducerEpoch)
}

// lateProduce runs a transaction with one batch on partition (led by
// leader), aborts it, sends another batch of it and insists on want.
// EndTxn must return only once the marker is replicated.
func lateProduce(ctx context.Context, t *testing.T, cl *kgo.Client, adm *kadm.Client, id, topic string, partition, leader int32, want *kerr.Error) {
	t.Helper()
	before := endOffsets(t, adm, topic)[partition]

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = &id
	init.TransactionTimeoutMillis = 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = topic, []int32{partition}
	add.Topics = append(add.Topics, at)
	if ar, err := add.RequestWith(ctx, cl); err != nil || ar.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partition %d: %v %+v", partition, err, ar)
	}

	produce := func(seq int32, value string) int16 {
		batch := rawBatch(pid, epoch, seq, value)
		batch[22] |= 0x10 // transactional
		binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID = &id
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = partition, batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
		if err != nil {
			t.Fatalf("produce to broker %d: %v", leader, err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(0, "in the transaction"); code != 0 {
		t.Fatalf("produce in the transaction to %d (led by %d): %v", partition, leader, kerr.ErrorForCode(code))
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, pid, epoch, false
	if er, err := end.RequestWith(ctx, cl); err != nil || er.ErrorCode != 0 {
		t.Fatalf("abort: %v %v", err, kerr.ErrorForCode(er.ErrorCode))
	}
	// The marker is on the ISR once EndTxn returns: the batch and the
	// marker are below the high watermark.
	if hw := endOffsets(t, adm, topic)[partition]; hw != before+2 {
		t.Fatalf("partition %d: high watermark %d right after EndTxn, want %d (the abort marker replicated)", partition, hw, before+2)
	}
	if code := produce(1, "late"); code != want.Code {
		t.Fatalf("late produce after the abort: %v, want %v", kerr.ErrorForCode(code), want)
	}
	// Nothing is left open: read_committed reads up to the end.
	ends := endOffsets(t, adm, topic)
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup(topic, partition); o.Offset != ends[partition] {
		t.Fatalf("partition %d: last stable offset %d, high watermark %d", partition, o.Offset, ends[partition])
	}
}
