package broker

import (
	"testing"
	"time"
)

func TestReplicationThrottleServesItsRateOnAverage(t *testing.T) {
	th := newReplicationThrottle(1000)
	start := time.Unix(100, 0)
	if got := th.budget(start); got != 1000 {
		t.Fatalf("a fresh bucket holds one second: %d", got)
	}
	th.charge(1500) // one batch may overdraw
	if got := th.budget(start.Add(400 * time.Millisecond)); got != 0 {
		t.Fatalf("in debt: budget %d, want 0", got)
	}
	if got := th.budget(start.Add(time.Second)); got != 500 {
		t.Fatalf("after a second of refill: %d, want 500", got)
	}
	if got := th.budget(start.Add(time.Hour)); got != 1000 {
		t.Fatalf("an idle bucket holds at most one second: %d", got)
	}
	// Served over 10 s of steady fetches: never more than 11 s' worth.
	served := int64(0)
	now := start.Add(time.Hour)
	for range 1000 {
		now = now.Add(10 * time.Millisecond)
		if b := th.budget(now); b > 0 {
			th.charge(b)
			served += b
		}
	}
	if served > 11000 {
		t.Fatalf("served %d bytes in 10 s at 1000 B/s", served)
	}
}
