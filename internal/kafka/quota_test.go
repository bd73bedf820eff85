package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/meta"
)

func quotaSet(entries map[meta.QuotaEntity]map[string]float64) func() *meta.QuotaSet {
	s := &meta.QuotaSet{Entities: entries}
	return func() *meta.QuotaSet { return s }
}

func TestQuotaPrecedence(t *testing.T) {
	named := func(n string) meta.QuotaName { return meta.QuotaName{Set: true, Name: n} }
	def := meta.QuotaName{Set: true, Default: true}
	m := newQuotaManager(quotaSet(map[meta.QuotaEntity]map[string]float64{
		{User: named("alice"), ClientID: named("app")}: {quotaProducerByteRate: 1},
		{User: named("alice")}:                         {quotaProducerByteRate: 2},
		{User: def}:                                    {quotaProducerByteRate: 3},
		{ClientID: named("app")}:                       {quotaProducerByteRate: 4},
		{ClientID: def}:                                {quotaConsumerByteRate: 5},
	}), 0)
	cases := []struct {
		quota, user, client string
		want                float64
		ok                  bool
	}{
		{quotaProducerByteRate, "alice", "app", 1, true},
		{quotaProducerByteRate, "alice", "other", 2, true},
		{quotaProducerByteRate, "bob", "app", 3, true}, // default user beats client id
		{quotaConsumerByteRate, "bob", "x", 5, true},
		{quotaRequestPercentage, "bob", "x", 0, false},
	}
	for _, c := range cases {
		got, _, ok := m.lookup(c.quota, c.user, c.client)
		if got != c.want || ok != c.ok {
			t.Errorf("lookup(%s, %s, %s) = %v %v, want %v %v", c.quota, c.user, c.client, got, ok, c.want, c.ok)
		}
	}
}

func TestRateSensorThrottles(t *testing.T) {
	var s rateSensor
	now := time.Unix(1000, 0)
	if d := s.record(1<<20, 1<<20, now); d != 0 {
		t.Fatalf("first MB at 1 MB/s throttled %v", d)
	}
	// Two more MB within the first second: three times the rate over one
	// second is two seconds too many.
	s.record(1<<20, 1<<20, now.Add(100*time.Millisecond))
	if d := s.record(1<<20, 1<<20, now.Add(200*time.Millisecond)); d != 2*time.Second {
		t.Fatalf("throttle %v, want 2s", d)
	}
	// After the throttle the rate is back at the quota.
	if d := s.record(0, 1<<20, now.Add(3*time.Second)); d != 0 {
		t.Fatalf("throttle %v after waiting, want 0", d)
	}
}

// TestIdleSensorsArePruned: client ids are the client's to choose, so a
// default quota must not keep a sensor for every id ever seen.
func TestIdleSensorsArePruned(t *testing.T) {
	m := newQuotaManager(quotaSet(map[meta.QuotaEntity]map[string]float64{
		{ClientID: meta.QuotaName{Set: true, Default: true}}: {quotaProducerByteRate: 1 << 20},
	}), 0)
	start := time.Now()
	for i := range 3 * maxIdleSensors {
		m.record(quotaProducerByteRate, "User:u", fmt.Sprint("client-", i), 1, start)
	}
	if n := len(m.sensors); n < 2*maxIdleSensors {
		t.Fatalf("%d sensors before any was idle; pruned too early", n)
	}
	// A window later, a new client id finds the map full of idle sensors.
	m.mu.Lock()
	m.pruned = start.Add(-maxThrottle)
	m.mu.Unlock()
	for _, s := range m.sensors {
		s.mu.Lock()
		for i := range s.samples {
			if s.samples[i].second != 0 {
				s.samples[i].second -= int64(2 * maxThrottle / time.Second)
			}
		}
		s.mu.Unlock()
	}
	m.record(quotaProducerByteRate, "User:u", "new-client", 1, start)
	if n := len(m.sensors); n != 1 {
		t.Fatalf("%d sensors after pruning, want 1 (the new one)", n)
	}
}
