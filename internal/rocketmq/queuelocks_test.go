package rocketmq

import (
	"testing"
	"time"
)

func TestQueueLocks(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const queueLockTTL = time.Minute
	l := newQueueLocks(func() time.Time { return now }, queueLockTTL)
	alive := map[string]bool{"a": true, "b": true}
	live := func(id string) bool { return alive[id] }
	q0 := lockedQueue{Topic: "T", BrokerName: "ferry-0", QueueID: 0}
	q1 := lockedQueue{Topic: "T", BrokerName: "ferry-0", QueueID: 1}

	if got := l.Lock("g", "a", []lockedQueue{q0, q1}, live); len(got) != 2 {
		t.Fatalf("a locked %v, want both queues", got)
	}
	if got := l.Lock("g", "b", []lockedQueue{q0, q1}, live); len(got) != 0 {
		t.Fatalf("b locked %v while a holds them", got)
	}
	if got := l.Lock("other", "b", []lockedQueue{q0}, live); len(got) != 1 {
		t.Fatalf("another group's lock is separate: got %v", got)
	}
	now = now.Add(queueLockTTL / 2)
	if got := l.Lock("g", "a", []lockedQueue{q0}, live); len(got) != 1 {
		t.Fatal("a cannot renew its own lock")
	}
	l.Unlock("g", "b", []lockedQueue{q0}) // not b's: no effect
	if got := l.Lock("g", "b", []lockedQueue{q0}, live); len(got) != 0 {
		t.Fatal("b's unlock released a's lock")
	}
	l.Unlock("g", "a", []lockedQueue{q0})
	if got := l.Lock("g", "b", []lockedQueue{q0}, live); len(got) != 1 {
		t.Fatal("b cannot take a queue a unlocked")
	}
	// q1 was last renewed half a TTL ago; past the TTL it is free.
	now = now.Add(queueLockTTL/2 + time.Second)
	if got := l.Lock("g", "b", []lockedQueue{q1}, live); len(got) != 1 {
		t.Fatal("b cannot take a lapsed lock")
	}
	// A holder that left the group loses its locks at once.
	alive["b"] = false
	if got := l.Lock("g", "a", []lockedQueue{q0, q1}, live); len(got) != 2 {
		t.Fatalf("a got %v of the queues of a client that left", got)
	}
	// Lapsed locks are dropped by a later Lock.
	now = now.Add(2 * queueLockTTL)
	l.Lock("g", "a", nil, live)
	l.mu.Lock()
	n := len(l.held)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d lapsed locks left", n)
	}
}
