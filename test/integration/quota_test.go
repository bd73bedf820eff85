package integration

import (
	"crypto/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// throttleCounter counts the throttles brokers report to a client.
type throttleCounter struct {
	n     atomic.Int64
	total atomic.Int64 // milliseconds
}

func (c *throttleCounter) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		c.n.Add(1)
		c.total.Add(d.Milliseconds())
	}
}

// TestProducerQuotaThrottles: a 1 MB/s producer_byte_rate makes a 10 MB
// produce take about ten seconds, with throttle_time_ms in the responses;
// once removed, the same client is no longer throttled.
func TestProducerQuotaThrottles(t *testing.T) {
	p := startFerry(t, t.TempDir(), "--topic-default", "flush.policy=os")
	ctx := testCtx(t, 120*time.Second)
	adm := newAdmin(t, p.addr)
	createTopic(t, adm, "quota-topic", 1)

	client := "quota-producer"
	entity := kadm.ClientQuotaEntity{{Type: "client-id", Name: &client}}
	set, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1 << 20}}}})
	if err != nil || len(set) != 1 || set[0].Err != nil {
		t.Fatalf("alter client quotas: %v %+v", err, set)
	}
	described, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchName: &client, MatchType: 0}})
	if err != nil || len(described) != 1 || len(described[0].Values) != 1 || described[0].Values[0].Key != "producer_byte_rate" || described[0].Values[0].Value != 1<<20 {
		t.Fatalf("describe client quotas: %v %+v", err, described)
	}

	throttles := &throttleCounter{}
	cl := newClient(t, p.addr, kgo.ClientID(client), kgo.DefaultProduceTopic("quota-topic"), kgo.WithHooks(throttles))
	produce := func(n int) time.Duration {
		start := time.Now()
		rs := make([]*kgo.Record, n)
		for i := range rs {
			// Each value its own random bytes: incompressible, as
			// the quota counts the bytes on the wire.
			rs[i] = &kgo.Record{Value: make([]byte, 10<<10)}
			rand.Read(rs[i].Value)
		}
		produceSync(t, cl, rs...)
		return time.Since(start)
	}
	took := produce(1000) // 10 MB
	t.Logf("10 MB under a 1 MB/s quota took %v; %d throttles, %d ms in all", took, throttles.n.Load(), throttles.total.Load())
	if took < 7*time.Second {
		t.Errorf("10 MB under a 1 MB/s quota took %v, want about 10 s", took)
	}
	if throttles.n.Load() == 0 {
		t.Errorf("no response carried throttle_time_ms")
	}

	removed, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}}}})
	if err != nil || removed[0].Err != nil {
		t.Fatalf("remove quota: %v %+v", err, removed)
	}
	if d, err := adm.DescribeClientQuotas(ctx, false, nil); err != nil || len(d) != 0 {
		t.Fatalf("quotas after removal: %v %+v", err, d)
	}
	before := throttles.n.Load()
	produce(300) // 3 MB: three times the old quota
	if n := throttles.n.Load() - before; n != 0 {
		t.Errorf("%d throttles after the quota was removed", n)
	}
}

// TestConsumerQuotaThrottles: a 1 MB/s consumer_byte_rate makes reading 5
// MB take several seconds, with throttle_time_ms in fetch responses.
func TestConsumerQuotaThrottles(t *testing.T) {
	p := startFerry(t, t.TempDir(), "--topic-default", "flush.policy=os")
	ctx := testCtx(t, 120*time.Second)
	adm := newAdmin(t, p.addr)
	createTopic(t, adm, "consumer-quota", 1)
	rs := make([]*kgo.Record, 500) // 5 MB
	for i := range rs {
		rs[i] = &kgo.Record{Topic: "consumer-quota", Value: make([]byte, 10<<10)}
		rand.Read(rs[i].Value)
	}
	produceSync(t, newClient(t, p.addr), rs...)

	user := "ANONYMOUS" // no authentication: every connection is User:ANONYMOUS
	set, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &user}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 1 << 20}},
	}})
	if err != nil || set[0].Err != nil {
		t.Fatalf("alter client quotas: %v %+v", err, set)
	}
	throttles := &throttleCounter{}
	start := time.Now()
	got := consumeN(t, p.addr, allFrom(1, kgo.NewOffset().AtStart()), "consumer-quota", len(rs), kgo.WithHooks(throttles))
	took := time.Since(start)
	t.Logf("5 MB under a 1 MB/s consumer quota took %v; %d throttles, %d ms in all", took, throttles.n.Load(), throttles.total.Load())
	if len(got) != len(rs) {
		t.Fatalf("consumed %d records, want %d", len(got), len(rs))
	}
	if took < 3*time.Second {
		t.Errorf("5 MB under a 1 MB/s consumer quota took %v, want about 5 s", took)
	}
	if throttles.n.Load() == 0 {
		t.Errorf("no fetch response carried throttle_time_ms")
	}
}
