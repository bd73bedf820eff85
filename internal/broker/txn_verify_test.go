package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/txn"
)

func loadedTxnCoordinator(t *testing.T, b *Broker, id string) *txn.Coordinator {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := b.TxnCoordinatorFor(id)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction coordinator of %q: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// KIP-890's race at a partition leader: the coordinator says the
// partition is in the open transaction, then the transaction is aborted
// (its marker lands here) before the batch is appended. Appending would
// open a transaction nobody ends; the leader notices the marker, verifies
// again and refuses the batch.
func TestAppendAfterVerifiedTransactionEndedIsRefused(t *testing.T) {
	b := newTestBroker(t)
	if _, err := b.CreateTopic("t", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	c := loadedTxnCoordinator(t, b, "x")
	pid, epoch, kerrr := c.InitProducerID("x", 60_000, -1, -1)
	if kerrr != nil {
		t.Fatal(kerrr)
	}
	if bad, err := c.AddPartitions("x", pid, epoch, []txn.Partition{{Topic: "t", Partition: 0}}); err != nil || bad != nil {
		t.Fatalf("add: %v %v", err, bad)
	}
	p, err := b.Partition("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	batch := log.NewTransactionalBatch([]log.KeyValue{{Key: []byte("k"), Value: []byte("v")}}, time.Now(), pid, epoch)

	token, needed := p.TxnVerification(pid, epoch)
	if !needed {
		t.Fatal("the transaction's first batch here needs no verification")
	}
	if err := b.VerifyTxnPartition("x", pid, epoch, "t", 0); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if kerrr := c.EndTxn("x", pid, epoch, false); kerrr != nil { // e.g. its timeout
		t.Fatal(kerrr)
	}
	if _, err := p.AppendTransactional(batch, token); !errors.Is(err, errTxnMarkerRace) {
		t.Fatalf("append after the marker: %v, want the race detected", err)
	}
	if _, err := b.AppendVerified(p, "x", pid, epoch, batch); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("verified append after the abort: %v, want INVALID_TXN_STATE", err)
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != hw {
		t.Fatalf("last stable offset %d below the high watermark %d: a transaction was left open", lso, hw)
	}

	// The next transaction's batches: the first is verified, the rest
	// need not be.
	if bad, err := c.AddPartitions("x", pid, epoch, []txn.Partition{{Topic: "t", Partition: 0}}); err != nil || bad != nil {
		t.Fatalf("add: %v %v", err, bad)
	}
	if _, err := b.AppendVerified(p, "x", pid, epoch, batch); err != nil {
		t.Fatalf("first batch of the next transaction: %v", err)
	}
	if _, needed := p.TxnVerification(pid, epoch); needed {
		t.Fatal("a transaction with records here is verified again")
	}
}
