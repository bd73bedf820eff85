package integration

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
// coordinator is SIGKILLed and, a few seconds later, restarted on its data
// dir. Whatever was in flight is aborted or completed by the coordinator,
// wherever it runs then; the read_committed output must equal the input
// exactly once.
func TestClusterExactlyOnceAcrossCoordinatorSIGKILL(t *testing.T) {
	procs, args := startClusterWith(t, 3)
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
	procs[victim-1].kill()
	time.Sleep(3 * time.Second)
	procs[victim-1] = startFerry(t, procs[victim-1].dataDir, args[victim-1]...)

	survivor := procs[0].addr
	if victim == 1 {
		survivor = procs[1].addr
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := consumeAll(t, survivor, out, 6, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if len(got) >= n || time.Now().After(deadline) {
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
