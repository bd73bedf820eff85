package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The README's backlog runbook, measured: consumers that each handle
// about 1,000 records/s fall behind a 6,000 records/s producer on a
// 2-partition topic; `ferry topic scale --factor 10 --group G --wait`
// and 18 more consumers turn the growing lag around. It logs the
// figures the README quotes and runs only with FERRY_RUNBOOK=1 (about a
// minute, 20 consumers).
func TestRunbookBacklogScale(t *testing.T) {
	if os.Getenv("FERRY_RUNBOOK") == "" {
		t.Skip("set FERRY_RUNBOOK=1 to measure the backlog runbook")
	}
	const (
		rate        = 6000             // records/s produced
		perRecord   = time.Millisecond // a consumer's work per record
		before      = 10 * time.Second // falling behind
		groupID     = "runbook"
		consumersAt = 2 // at the start: one per partition
	)
	procs := startCluster(t, 3)
	addrs := []string{procs[0].addr, procs[1].addr, procs[2].addr}
	cl := newClient(t, procs[0].addr)
	adm := kadm.NewClient(cl)
	topic := topicName(t)
	createBalanceTopic(t, adm, topic, 2, 3)

	ctx, cancel := context.WithCancel(context.Background())
	var consumed atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	consumer := func(name string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
				kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ClientID(name),
				kgo.FetchMaxBytes(64<<10), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for ctx.Err() == nil {
				fs := c.PollRecords(ctx, 100)
				n := fs.NumRecords()
				time.Sleep(time.Duration(n) * perRecord) // the work
				consumed.Add(int64(n))
			}
		}()
	}
	for i := range consumersAt {
		consumer(fmt.Sprintf("c%d", i))
	}

	var produced atomic.Int64
	// Producers, like classic consumers, see new partitions when their
	// client next refreshes metadata: the runbook lowers that to 5s.
	prod := newClient(t, procs[0].addr, kgo.DefaultProduceTopic(topic), kgo.SeedBrokers(addrs...), kgo.MetadataMaxAge(5*time.Second))
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			<-tick.C
			for range rate / 100 {
				prod.Produce(ctx, &kgo.Record{Value: make([]byte, 100)}, func(_ *kgo.Record, err error) {
					if err == nil {
						produced.Add(1)
					}
				})
			}
		}
	}()
	lag := func() int64 { return produced.Load() - consumed.Load() }
	time.Sleep(before)
	lagAtScale := lag()
	t.Logf("after %s: produced %d, consumed %d (%.0f/s), lag %d", before, produced.Load(), consumed.Load(),
		float64(consumed.Load())/before.Seconds(), lagAtScale)

	// The runbook: one command, and more consumers.
	start := time.Now()
	for i := consumersAt; i < 10*consumersAt; i++ {
		consumer(fmt.Sprintf("c%d", i))
	}
	out, err := exec.CommandContext(testCtx(t, 120*time.Second), ferryBinary(t), "topic", "scale", topic, "--factor", "10",
		"--group", groupID, "--wait", "--brokers", procs[0].addr).CombinedOutput()
	if err != nil {
		for _, p := range procs {
			for _, line := range strings.Split(p.log(), "\n") {
				if strings.Contains(line, "balancer") || strings.Contains(line, "coordinator") {
					t.Log(line)
				}
			}
		}
		t.Fatalf("topic scale: %v\n%s", err, out)
	}
	t.Logf("topic scale (%s):\n%s", time.Since(start).Round(100*time.Millisecond), out)
	// Steady state keeps a few thousand records in the consumers' fetch
	// buffers and in their hands (20 × up to 100 being worked on).
	const settled = 5000
	c0 := consumed.Load()
	peak, peakAt := lag(), time.Since(start)
	next := 5 * time.Second
	for deadline := time.Now().Add(120 * time.Second); lag() > settled; {
		if l := lag(); l > peak {
			peak, peakAt = l, time.Since(start)
		}
		if since := time.Since(start); since >= next {
			t.Logf("+%s: lag %d", since.Round(time.Second), lag())
			next += 5 * time.Second
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag still %d two minutes after scaling", lag())
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("lag %d at the scale, peak %d at +%s, below %d at +%s; consumed %.0f/s after the scale",
		lagAtScale, peak, peakAt.Round(100*time.Millisecond), settled, took.Round(100*time.Millisecond),
		float64(consumed.Load()-c0)/took.Seconds())
}
