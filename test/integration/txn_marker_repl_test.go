package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
)

// EndTxn returns only once every marker is on its partition's ISR, as
// Kafka writes markers with acks=all. A marker only on the leader is lost
// if that leader dies: the next leader holds the transaction's records
// with no end, and read_committed consumers stall behind them for good,
// while the coordinator counts the transaction as complete. With the
// links from the leader to both followers slow, the high watermark right
// after EndTxn must already cover the marker.
func TestTxnMarkerIsReplicatedBeforeEndTxnReturns(t *testing.T) {
	srvs, tn := inprocCluster(t, 3, func(c *config.Config) {
		c.ReplicaLagTimeMax = 30 * time.Second    // slow followers stay in the ISR
		c.BrokerSessionTimeout = 20 * time.Second // and are not fenced
	})
	topic := topicName(t)
	adm := newAdmin(t, srvs[0].Addr())
	createReplicatedTopic(t, adm, topic, 1)
	waitISR(t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	p0 := waitTopicMetadata(t, adm, topic).Topics[topic].Partitions[0]

	cl := newClient(t, srvs[0].Addr(), kgo.SeedBrokers(srvs[0].Addr(), srvs[1].Addr(), srvs[2].Addr()),
		kgo.TransactionalID(topic+"-txn"), kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 60*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range p0.Replicas {
		if r != p0.Leader {
			tn.slow(int(r), int(p0.Leader), 400*time.Millisecond)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if hw := endOffsets(t, adm, topic)[0]; hw != 2 {
		t.Fatalf("high watermark %d right after EndTxn, want 2: the commit marker was not on the ISR", hw)
	}
}
