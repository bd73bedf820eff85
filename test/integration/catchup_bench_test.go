package integration

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReplicaCatchUpRate measures how fast a replica that was down catches
// up: node 3 is killed, FERRY_CATCHUP_MB megabytes are written with
// acks=all to a replication-factor-3 topic (the other two replicas take
// them), node 3 is restarted, and the time until it is back in every ISR
// gives the catch-up rate. A measurement for BENCHMARKS.md, not a check:
// it skips unless the variable is set.
//
//	FERRY_CATCHUP_MB=5120 go test ./test/integration -run TestReplicaCatchUpRate -v -timeout 60m
func TestReplicaCatchUpRate(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("FERRY_CATCHUP_MB"))
	if mb <= 0 {
		t.Skip("set FERRY_CATCHUP_MB=N to measure a replica catching up on N MB")
	}
	procs, args := startClusterWith(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	const parts = 3
	createReplicatedTopic(t, adm, topic, parts)
	for p := range int32(parts) {
		waitPartitionISR(t, adm, topic, p, 3)
	}
	procs[2].kill()
	for p := range int32(parts) {
		waitPartitionISR(t, adm, topic, p, 2)
	}

	cl := newClient(t, procs[0].addr, kgo.SeedBrokers(procs[0].addr, procs[1].addr), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(20000))
	value := make([]byte, 1024)
	start := time.Now()
	errs := make(chan error, 1)
	total := mb * 1024
	for i := range total {
		cl.Produce(testCtx(t, 30*time.Minute), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
		if i%100000 == 0 && i > 0 {
			t.Logf("%d MB produced", i/1024)
		}
	}
	if err := cl.Flush(testCtx(t, 30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	wrote := time.Since(start)
	t.Logf("wrote %d MB with acks=all to two replicas in %v (%.0f MB/s)", mb, wrote.Round(time.Millisecond), float64(mb)/wrote.Seconds())

	restart := time.Now()
	restarted, err := tryStartFerry(t, procs[2].dataDir, args[2]...)
	if err != nil {
		t.Fatal(err)
	}
	procs[2] = restarted
	started := time.Since(restart)
	for p := range int32(parts) {
		waitPartitionISRWithin(t, adm, topic, p, 3, 60*time.Minute)
	}
	took := time.Since(restart)
	fmt.Fprintf(os.Stderr, "catch-up: %d MB, node start %v, back in every ISR after %v: %.0f MB/s\n",
		mb, started.Round(time.Millisecond), took.Round(time.Millisecond), float64(mb)/took.Seconds())
	t.Logf("catch-up of %d MB: node started in %v, back in every ISR after %v (%.0f MB/s)", mb, started.Round(time.Millisecond), took.Round(time.Millisecond), float64(mb)/took.Seconds())
}
