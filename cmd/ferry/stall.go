package main

import (
	"context"
	"sync/atomic"
	"time"
)

// franz-go never fails a record whose produce request was sent and not
// answered while the producer is idempotent: guessing could break the
// sequence numbers, so it waits for the connection to come back. When the
// broker dies mid-request, Produce (blocked on a full buffer) and Flush wait
// for ever and RecordDeliveryTimeout never fires. A stall watch bounds that
// wait: it cancels its context once records are outstanding and none was
// acknowledged or failed for the limit.

// stallLimit leaves the record timeout (--timeout) room to fire first, so a
// broker that answers with an error is reported with that error.
func stallLimit(timeout time.Duration) time.Duration {
	return timeout + timeout/2
}

// stallWatch is a context cancelled after limit without progress while
// settled (acknowledged or failed records) is below sent.
type stallWatch struct {
	ctx     context.Context
	stop    context.CancelFunc
	stalled atomic.Bool
}

func watchStall(parent context.Context, limit time.Duration, settled, sent func() int64) *stallWatch {
	ctx, cancel := context.WithCancel(parent)
	w := &stallWatch{ctx: ctx, stop: cancel}
	tick := min(max(limit/20, 10*time.Millisecond), time.Second)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		last, since := settled(), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				s := settled()
				if s != last || s >= sent() {
					last, since = s, now
					continue
				}
				if now.Sub(since) >= limit {
					w.stalled.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return w
}
