package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScheduledSurvivesSIGKILL: records scheduled through a Kafka producer
// are all delivered after the broker is SIGKILLed — some of them before
// the kill, the rest after the restart — and none is lost. Delivery is
// at-least-once: a record delivered in the instant before the kill may come
// twice (counted and logged, not failed).
func TestScheduledSurvivesSIGKILL(t *testing.T) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	topic := "scheduled-crash"
	createTopic(t, newAdmin(t, proc.addr), topic, 2, "message.scheduling.enable=true")
	cl := newClient(t, proc.addr, kgo.DefaultProduceTopic(topic))

	const n = 300
	start := time.Now()
	var recs []*kgo.Record
	for i := range n {
		// Due from 0.3s to 3.3s after start, spread over both partitions;
		// the last third far enough to be in a bucket not yet loaded.
		due := start.Add(300*time.Millisecond + time.Duration(i)*10*time.Millisecond)
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i)), Headers: []kgo.RecordHeader{deliverAt(due)}})
	}
	produceSync(t, cl, recs...)
	cl.Close()
	time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
	proc.kill()

	proc = startFerry(t, dataDir)
	cons := newClient(t, proc.addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: allFrom(2, kgo.NewOffset().AtStart())}),
		kgo.FetchMaxWait(100*time.Millisecond))
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			if due := dueOf(t, r, start); now.Before(due) {
				t.Errorf("record %s fetched at %v, before its due time %v", r.Value, now, due)
			}
		})
	}
	dups := 0
	for i := range n {
		c := seen[fmt.Sprint(i)]
		if c == 0 {
			t.Errorf("record %d never delivered", i)
		}
		dups += max(c-1, 0)
	}
	t.Logf("%d records delivered, %d delivered twice across the SIGKILL", len(seen), dups)
	if len(seen) != n {
		t.Fatalf("%d of %d records delivered\n%s", len(seen), n, proc.log())
	}
}
