package kafka

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Client quotas, enforced as Kafka does (KIP-13, KIP-124, KIP-219): each
// quota's usage is measured as a rate over a sliding window; a request
// that takes it over the quota gets throttle_time_ms in its response, the
// time for the rate to come back under the quota, and the connection reads
// nothing more for that long, so a client that ignores the field is held
// back anyway.
//
// Quotas: producer_byte_rate (bytes of produce requests per second),
// consumer_byte_rate (bytes of fetch responses per second) and
// request_percentage (time the broker spends in the first phase of the
// principal's requests, as a percentage of one thread: 100 is one thread
// busy all the time; long-poll waits do not count).
//
// A quota is looked up per user (the principal's name) and client id with
// Kafka's precedence, the first entity that sets it winning:
// user+client-id, user+default client-id, user, default user+client-id,
// default user+default client-id, default user, client-id, default
// client-id. Usage is counted per the parts of the matched entity: a
// default user quota gives each user their own budget.

const (
	quotaProducerByteRate  = "producer_byte_rate"
	quotaConsumerByteRate  = "consumer_byte_rate"
	quotaRequestPercentage = "request_percentage"
	// rateSamples one-second samples make the window the rate is measured
	// over. A new sensor's window counts as at least one sample long (not
	// Kafka's samples-1, which lets a new client burst ten seconds' worth).
	rateSamples = 11
	// maxThrottle bounds one throttle, as the window bounds Kafka's.
	maxThrottle = rateSamples * time.Second
)

// quotaKeys are the quota names AlterClientQuotas accepts.
var quotaKeys = map[string]bool{quotaProducerByteRate: true, quotaConsumerByteRate: true, quotaRequestPercentage: true}

type quotaManager struct {
	source          func() *meta.QuotaSet
	maxPerPrincipal int

	mu      sync.Mutex
	sensors map[sensorKey]*rateSensor
	pruned  time.Time      // when idle sensors were last removed
	conns   map[string]int // open connections per principal
}

// maxIdleSensors is how many sensors may pile up before the idle ones (no
// usage for a whole window) are removed: a default quota gives every
// client id its own sensor, and client ids are the client's to choose.
const maxIdleSensors = 1024

type sensorKey struct {
	quota, user, clientID string
}

// connQuota is a connection's quota state.
type connQuota struct {
	reqSize int32 // of the request being handled; read goroutine only
	// throttledUntil (unix nanoseconds) holds the next read back; set by
	// either goroutine, read by the reader.
	throttledUntil atomic.Int64
}

func newQuotaManager(source func() *meta.QuotaSet, maxPerPrincipal int) *quotaManager {
	return &quotaManager{source: source, maxPerPrincipal: maxPerPrincipal, sensors: map[sensorKey]*rateSensor{}, conns: map[string]int{}}
}

// userOf is the quota user of a principal: its name.
func userOf(principal string) string {
	_, name, _ := strings.Cut(principal, ":")
	return name
}

// lookup returns the quota key applying to user and clientID, and the
// sensor that counts its usage.
func (m *quotaManager) lookup(quota, user, clientID string) (float64, *rateSensor, bool) {
	set := m.source()
	if len(set.Entities) == 0 {
		return 0, nil, false
	}
	named := func(n string) meta.QuotaName { return meta.QuotaName{Set: true, Name: n} }
	def := meta.QuotaName{Set: true, Default: true}
	none := meta.QuotaName{}
	for _, e := range [...]meta.QuotaEntity{
		{User: named(user), ClientID: named(clientID)},
		{User: named(user), ClientID: def},
		{User: named(user), ClientID: none},
		{User: def, ClientID: named(clientID)},
		{User: def, ClientID: def},
		{User: def, ClientID: none},
		{User: none, ClientID: named(clientID)},
		{User: none, ClientID: def},
	} {
		v, ok := set.Entities[e][quota]
		if !ok {
			continue
		}
		k := sensorKey{quota: quota}
		if e.User.Set {
			k.user = user
		}
		if e.ClientID.Set {
			k.clientID = clientID
		}
		m.mu.Lock()
		s := m.sensors[k]
		if s == nil {
			m.pruneLocked(time.Now())
			s = &rateSensor{}
			m.sensors[k] = s
		}
		m.mu.Unlock()
		return v, s, true
	}
	return 0, nil, false
}

// pruneLocked removes sensors idle for a whole window once there are many,
// at most once a window.
// REQUIRES: m.mu held.
func (m *quotaManager) pruneLocked(now time.Time) {
	if len(m.sensors) < maxIdleSensors || now.Sub(m.pruned) < maxThrottle {
		return
	}
	m.pruned = now
	for k, s := range m.sensors {
		if s.idleSince(now) >= maxThrottle {
			delete(m.sensors, k)
		}
	}
}

// record adds usage of a quota and returns how long to throttle.
func (m *quotaManager) record(quota, principal, clientID string, amount float64, now time.Time) time.Duration {
	limit, s, ok := m.lookup(quota, userOf(principal), clientID)
	if !ok {
		return 0
	}
	return s.record(amount, limit, now)
}

// join counts a connection of principal, refusing one over
// --max-connections-per-principal.
func (m *quotaManager) join(principal string) error {
	if m.maxPerPrincipal <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns[principal] >= m.maxPerPrincipal {
		return fmt.Errorf("principal %s has %d connections open, the most allowed (--max-connections-per-principal)", principal, m.conns[principal])
	}
	m.conns[principal]++
	return nil
}

func (m *quotaManager) leave(principal string) {
	if m.maxPerPrincipal <= 0 || principal == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns[principal]--; m.conns[principal] <= 0 {
		delete(m.conns, principal)
	}
}

// rateSensor measures a rate over rateSamples one-second samples.
type rateSensor struct {
	mu      sync.Mutex
	samples [rateSamples]struct {
		second int64 // unix second the sample counts; 0: unused
		total  float64
	}
}

// idleSince returns how long the sensor has recorded nothing.
func (s *rateSensor) idleSince(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last int64
	for _, smp := range s.samples {
		last = max(last, smp.second)
	}
	return now.Sub(time.Unix(last, 0))
}

// record adds amount at now and returns the throttle that brings the rate
// back to limit: (rate-limit)/limit of the window, as Kafka computes it.
func (s *rateSensor) record(amount, limit float64, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := now.Unix()
	cur := &s.samples[sec%rateSamples]
	if cur.second != sec {
		cur.second, cur.total = sec, 0
	}
	cur.total += amount
	var total float64
	oldest := sec
	for _, smp := range s.samples {
		if smp.second > sec-rateSamples && smp.second != 0 {
			total += smp.total
			oldest = min(oldest, smp.second)
		}
	}
	window := max(now.Sub(time.Unix(oldest, 0)), time.Second)
	rate := total / window.Seconds()
	if rate <= limit {
		return 0
	}
	return min(time.Duration((rate-limit)/limit*float64(window)), maxThrottle)
}
