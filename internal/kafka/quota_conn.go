package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// throttled records the request's usage of the principal's quotas and
// returns its finisher, which puts the throttle in the response
// (throttle_time_ms) and holds back the connection's next read for as
// long (KIP-219). Without quotas it returns fin unchanged.
func (c *conn) throttled(key int16, start time.Time, fin finisher) finisher {
	q := c.s.security.quotas
	if len(q.source().Entities) == 0 {
		return fin
	}
	principal, clientID := c.effectivePrincipal(), c.clientID
	now := time.Now()
	d := q.record(quotaRequestPercentage, principal, clientID, now.Sub(start).Seconds()*100, now)
	if key == 0 {
		d = max(d, q.record(quotaProducerByteRate, principal, clientID, float64(c.sec.quota.reqSize), now))
	}
	c.throttleFor(d, now)
	return func() reply {
		rep := fin()
		throttle := d
		switch r := rep.(type) {
		case *fetchReply:
			now := time.Now()
			fd := q.record(quotaConsumerByteRate, principal, clientID, float64(r.recordBytes()), now)
			c.throttleFor(fd, now)
			throttle = max(throttle, fd)
			r.throttle = max(r.throttle, int32(throttle/time.Millisecond))
		case msgReply:
			if st, ok := r.resp.(kmsg.SetThrottleResponse); ok && throttle > 0 {
				st.SetThrottle(int32(throttle / time.Millisecond))
			}
		}
		return rep
	}
}

// throttleFor holds the connection's reads back until d after now.
func (c *conn) throttleFor(d time.Duration, now time.Time) {
	if d <= 0 {
		return
	}
	until := now.Add(d).UnixNano()
	for {
		cur := c.sec.quota.throttledUntil.Load()
		if cur >= until || c.sec.quota.throttledUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitThrottle waits out a throttle before the next request is read.
func (c *conn) waitThrottle() error {
	until := c.sec.quota.throttledUntil.Load()
	if until == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// countPrincipal keeps --max-connections-per-principal: the connection
// counts for its principal from its first request (the principal is known
// once authenticated), and moves if the principal changes.
func (c *conn) countPrincipal() error {
	if c.s.security.quotas.maxPerPrincipal <= 0 {
		return nil
	}
	p := c.effectivePrincipal()
	if p == c.sec.principal {
		return nil
	}
	c.s.security.quotas.leave(c.sec.principal)
	c.sec.principal = ""
	if err := c.s.security.quotas.join(p); err != nil {
		return err
	}
	c.sec.principal = p
	return nil
}

// recordBytes is the record bytes a fetch reply carries.
func (r *fetchReply) recordBytes() int64 {
	var n int64
	for _, t := range r.topics {
		for _, p := range t.partitions {
			n += p.records.Size
		}
	}
	return n
}
