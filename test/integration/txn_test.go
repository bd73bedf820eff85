package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnClient returns a franz-go transactional producer.
func txnClient(t testing.TB, addr, txnID string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, addr, append([]kgo.Opt{
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(20 * time.Second),
		kgo.DefaultProduceTopic("unused"),
	}, opts...)...)
}

// runTxn produces values (round robin over parts partitions of topic) in one
// transaction and commits or aborts it.
func runTxn(t testing.TB, cl *kgo.Client, topic string, parts int32, commit bool, values ...string) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	var rs []*kgo.Record
	for i, v := range values {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("transactional produce: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	sort.Strings(out)
	return out
}

// consumeAll reads topic from the start until nothing new arrives for quiet.
func consumeAll(t testing.TB, addr, topic string, parts int32, quiet time.Duration, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: allFrom(parts, kgo.NewOffset().AtStart())}),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	defer cl.Close()
	var got []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r); n++ })
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		if n == 0 {
			return got
		}
	}
}

// TestTxnCommitAbortReadCommitted: committed transactions are visible to
// read_committed consumers, aborted ones are not; read_uncommitted sees
// both; ListOffsets agrees.
func TestTxnCommitAbortReadCommitted(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 3)
	cl := txnClient(t, srv.Addr(), topic+"-txn")

	var committed, all []string
	for i := 0; i < 6; i++ {
		commit := i%2 == 0
		var vs []string
		for j := 0; j < 5; j++ {
			vs = append(vs, fmt.Sprintf("t%d-r%d", i, j))
		}
		runTxn(t, cl, topic, 3, commit, vs...)
		all = append(all, vs...)
		if commit {
			committed = append(committed, vs...)
		}
	}
	sort.Strings(committed)
	sort.Strings(all)

	rc := values(consumeAll(t, srv.Addr(), topic, 3, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != fmt.Sprint(committed) {
		t.Fatalf("read_committed saw\n%v\nwant\n%v", rc, committed)
	}
	ru := values(consumeAll(t, srv.Addr(), topic, 3, time.Second))
	if fmt.Sprint(ru) != fmt.Sprint(all) {
		t.Fatalf("read_uncommitted saw\n%v\nwant\n%v", ru, all)
	}
	// With everything ended, the last stable offset is the end.
	ends := endOffsets(t, adm, topic)
	lso, err := adm.ListCommittedOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, _ := lso.Lookup(topic, p); o.Offset != end {
			t.Fatalf("partition %d: committed end %d, end %d", p, o.Offset, end)
		}
	}
}

// TestTxnOpenBlocksReadCommitted: an open transaction holds read_committed
// consumers at its first offset until it ends.
func TestTxnOpenBlocksReadCommitted(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	plain := newClient(t, srv.Addr())
	produceSync(t, plain, &kgo.Record{Topic: topic, Value: []byte("before")})

	cl := txnClient(t, srv.Addr(), topic+"-txn")
	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("in-txn")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Non-transactional data after the open transaction's first offset.
	produceSync(t, plain, &kgo.Record{Topic: topic, Value: []byte("after")})

	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup(topic, 0); o.Offset != 1 {
		t.Fatalf("last stable offset with an open txn at 1: %d", o.Offset)
	}
	if got := values(consumeAll(t, srv.Addr(), topic, 1, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))); fmt.Sprint(got) != "[before]" {
		t.Fatalf("read_committed during open txn saw %v", got)
	}
	if got := values(consumeAll(t, srv.Addr(), topic, 1, time.Second)); fmt.Sprint(got) != "[after before in-txn]" {
		t.Fatalf("read_uncommitted saw %v", got)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := values(consumeAll(t, srv.Addr(), topic, 1, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))); fmt.Sprint(got) != "[after before in-txn]" {
		t.Fatalf("read_committed after commit saw %v", got)
	}
}

// TestTxnZombieFenced: a second producer with the same transactional id
// fences the first; the first's produce and EndTxn fail, and its open
// transaction is aborted.
func TestTxnZombieFenced(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 2)
	id := topic + "-txn"
	ctx := testCtx(t, 30*time.Second)

	zombie := txnClient(t, srv.Addr(), id)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	fresh := txnClient(t, srv.Addr(), id)
	runTxn(t, fresh, topic, 2, true, "fresh-1", "fresh-2")

	err := zombie.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("zombie-2")}).FirstErr()
	if err == nil {
		err = zombie.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.InvalidProducerIDMapping) {
		t.Fatalf("zombie was not fenced: %v", err)
	}
	if got := values(consumeAll(t, srv.Addr(), topic, 2, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))); fmt.Sprint(got) != "[fresh-1 fresh-2]" {
		t.Fatalf("read_committed saw %v", got)
	}
}

// TestTxnErrorCodes drives the protocol by hand for Kafka's error codes.
func TestTxnErrorCodes(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cl := newClient(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)

	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "no-such-id", 1, 0, true
	resp, err := end.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("EndTxn for an unknown id: %v", kerr.ErrorForCode(resp.ErrorCode))
	}

	init := kmsg.NewPtrInitProducerIDRequest()
	id := topic + "-txn"
	init.TransactionalID = &id
	init.TransactionTimeoutMillis = 10000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("init: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	end.TransactionalID, end.ProducerID, end.ProducerEpoch = id, ir.ProducerID, ir.ProducerEpoch
	if resp, err = end.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn with no transaction: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}

	init.TransactionTimeoutMillis = int32((16 * time.Minute).Milliseconds())
	if ir2, err := init.RequestWith(ctx, cl); err != nil || ir2.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("init with a timeout over the max: %v %v", err, kerr.ErrorForCode(ir2.ErrorCode))
	}

	// A transactional produce to a partition not added to the transaction.
	raw := rawBatch(ir.ProducerID, ir.ProducerEpoch, 0, "x")
	raw[22] |= 0x10 // transactional
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
	prod := kmsg.NewPtrProduceRequest()
	prod.Version = 7
	prod.TransactionID = &id
	prod.Acks = -1
	prod.TimeoutMillis = 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = raw
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	pr, err := prod.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := pr.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce to a partition outside the transaction: %v", kerr.ErrorForCode(code))
	}
}
