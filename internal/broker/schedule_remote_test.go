package broker

import "testing"

// Remote deliveries to one partition wait for the one before them; those
// to another partition do not, and a finished chain is forgotten.
func TestScheduledChainsKeepOrderPerPartition(t *testing.T) {
	var c scheduledChains
	a, b := remoteTarget{"t", 0}, remoteTarget{"t", 1}
	prev1, done1 := c.next(a)
	prev2, done2 := c.next(a)
	prevB, doneB := c.next(b)
	if prev1 != nil || prevB != nil {
		t.Fatal("a first delivery to a partition waits for nothing")
	}
	select {
	case <-prev2:
		t.Fatal("the second delivery may go before the first is answered")
	default:
	}
	c.finished(a, done1)
	<-prev2 // released by the first
	c.finished(b, doneB)
	c.finished(a, done2)
	if len(c.last) != 0 {
		t.Fatalf("chains left after every delivery finished: %v", c.last)
	}
}
