package integration

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFailoverTimes measures how long partition 0 takes to acknowledge an
// acks=all write again after its leader is killed with SIGKILL, over
// FERRY_FAILOVER_KILLS kills (the killed broker is restarted and rejoins
// the ISR between kills). It is a measurement for BENCHMARKS.md, not a
// check: it skips unless the variable is set, and asserts no timing.
//
//	FERRY_FAILOVER_KILLS=20 go test ./test/integration -run TestFailoverTimes -v -timeout 30m
func TestFailoverTimes(t *testing.T) {
	kills, _ := strconv.Atoi(os.Getenv("FERRY_FAILOVER_KILLS"))
	if kills <= 0 {
		t.Skip("set FERRY_FAILOVER_KILLS=N to measure failover over N leader kills")
	}
	procs, args := startClusterWith(t, 3)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	if _, err := adm.CreateTopic(testCtx(t, 15*time.Second), 1, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	waitPartitionISR(t, adm, topic, 0, 3)
	var times []time.Duration
	for k := range kills {
		md := waitTopicMetadata(t, adm, topic)
		victim := md.Topics[topic].Partitions[0].Leader
		var seeds []string
		for i, p := range procs {
			if int32(i+1) != victim {
				seeds = append(seeds, p.addr)
			}
		}
		cl := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
		killed := time.Now()
		procs[victim-1].kill()
		if err := cl.ProduceSync(testCtx(t, 60*time.Second), &kgo.Record{Value: []byte("after kill " + strconv.Itoa(k))}).FirstErr(); err != nil {
			t.Fatalf("kill %d: produce after the kill: %v", k, err)
		}
		took := time.Since(killed)
		times = append(times, took)
		t.Logf("kill %d of node %d: acknowledged again after %v", k+1, victim, took.Round(time.Millisecond))
		cl.Close()
		restarted, err := tryStartFerry(t, procs[victim-1].dataDir, args[victim-1]...)
		if err != nil {
			t.Fatal(err)
		}
		procs[victim-1] = restarted
		adm = newAdmin(t, procs[(int(victim))%3].addr)
		waitPartitionISR(t, adm, topic, 0, 3)
	}
	slices.Sort(times)
	pct := func(q float64) time.Duration { return times[min(len(times)-1, int(q*float64(len(times))))] }
	t.Logf("failover over %d kills: p50 %v, p99 %v, max %v", len(times), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}
