package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A rolling restart of all three brokers (SIGTERM, start again, wait for
// the ISR to be whole) while an idempotent producer writes with acks=all:
// every acknowledged record is in the log exactly once, and the producer
// keeps going through every restart.
func TestRollingRestartUnderLoadLosesNothing(t *testing.T) {
	procs, args := startClusterWith(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	createReplicatedTopic(t, adm, topic, 3)
	for p := range int32(3) {
		waitPartitionISR(t, adm, topic, p, 3)
	}
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	acks := &ackLog{acked: map[string]int32{}, last: map[int32]time.Time{}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		for i := 0; ctx.Err() == nil; i++ {
			var rs []*kgo.Record
			for j := range 10 {
				rs = append(rs, &kgo.Record{Value: []byte(fmt.Sprintf("r-%06d-%02d", i, j))})
			}
			for _, r := range cl.ProduceSync(ctx, rs...) {
				if r.Err == nil {
					acks.add(string(r.Record.Value), r.Record.Partition)
				}
			}
		}
	}()

	for i := range procs {
		time.Sleep(500 * time.Millisecond)
		procs[i].stop()
		restarted, err := tryStartFerry(t, procs[i].dataDir, args[i]...)
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = restarted
		adm = newAdmin(t, procs[(i+1)%3].addr)
		for p := range int32(3) {
			waitPartitionISR(t, adm, topic, p, 3)
		}
		t.Logf("node %d restarted; %d records acknowledged so far", i+1, acks.count())
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()

	total := 0
	ends, err := adm.ListEndOffsets(testCtx(t, 15*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	seen := map[string]int{}
	for _, v := range consumeValues(t, procs[0].addr, topic, total) {
		seen[v]++
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%s is in the log %d times", v, n)
		}
	}
	for v := range acks.acked {
		if seen[v] == 0 {
			t.Errorf("acknowledged record %s is not in the log", v)
		}
	}
	if len(acks.acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	t.Logf("%d acknowledged, %d in the log", len(acks.acked), total)
}
