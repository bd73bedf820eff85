package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rocketAddr is the RocketMQ listener address a ferry process logged.
func rocketAddr(t *testing.T, p *ferryProc) string {
	t.Helper()
	m := rocketServingRE.FindStringSubmatch(p.log())
	if m == nil {
		t.Fatalf("no RocketMQ address in the log:\n%s", p.log())
	}
	return strings.Trim(m[1], `"`)
}

// TestRocketMQSendsSurviveKill: a real RocketMQ producer sends from eight
// goroutines while the broker process is SIGKILLed; after a restart on the
// same data dir, every message whose send was acknowledged is there, at
// the queue offset its send result named.
func TestRocketMQSendsSurviveKill(t *testing.T) {
	rlog.SetLogLevel("fatal")
	dir := t.TempDir()
	args := []string{"--rocketmq-addr", "127.0.0.1:0", "--auto-create-topics=true", "--num-partitions", "2"}
	proc := startFerry(t, dir, args...)
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{rocketAddr(t, proc)})),
		producer.WithGroupName("pg-crash"), producer.WithInstanceName("crash"), producer.WithRetry(0),
		producer.WithSendMsgTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	type ack struct {
		queue  int
		offset int64
	}
	var mu sync.Mutex
	acked := map[string]ack{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("g%d-%d", g, i)
				res, err := p.SendSync(context.Background(), primitive.NewMessage("crash", []byte(body)))
				if err != nil {
					continue // the broker is gone: unacknowledged, may or may not be stored
				}
				mu.Lock()
				acked[body] = ack{res.MessageQueue.QueueId, res.QueueOffset}
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d sends acknowledged in 30 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	proc.kill()
	close(stop)
	wg.Wait()

	proc = startFerry(t, dir, args...)
	ends := endOffsets(t, newAdmin(t, proc.addr), "crash")
	total := 0
	for _, e := range ends {
		total += int(e)
	}
	recs := consumeN(t, proc.addr, allFrom(2, kgo.NewOffset().AtStart()), "crash", total)
	stored := map[string]ack{}
	for _, r := range recs {
		stored[string(r.Value)] = ack{int(r.Partition), r.Offset}
	}
	for body, a := range acked {
		if got, ok := stored[body]; !ok || got != a {
			t.Errorf("acknowledged %s at queue %d offset %d; after the restart: %+v (present %v)", body, a.queue, a.offset, got, ok)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(recs))
}
