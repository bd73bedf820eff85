package rocketmq

import (
	"sync"
	"time"
)

// lockedQueue names a queue as clients do: topic (the RocketMQ name),
// broker name and queue id.
type lockedQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

type queueLockKey struct {
	group string
	queue lockedQueue
}

type queueLock struct {
	clientID string
	renewed  time.Time
}

// queueLocks are the locks orderly consumers take on queues
// (LOCK_BATCH_MQ, UNLOCK_BATCH_MQ) so that one client of a group at a
// time consumes a queue, keeping its order across rebalances. A lock
// belongs to a client id and lapses after ttl without renewal
// (--rocketmq-queue-lock-ttl; orderly consumers renew theirs every 20 s),
// or at once when its holder is no longer a live member of the group.
//
// rocketmq-client-go does not unlock a queue a rebalance takes from it,
// so its new owner gets the queue only once the old lock lapses.
type queueLocks struct {
	now func() time.Time
	ttl time.Duration
	mu  sync.Mutex
	// held maps a group's queue to its holder.
	// REQUIRES: mu held for every access.
	held map[queueLockKey]queueLock
	// swept is when lapsed locks were last dropped.
	// REQUIRES: mu held.
	swept time.Time
}

func newQueueLocks(now func() time.Time, ttl time.Duration) *queueLocks {
	return &queueLocks{now: now, ttl: ttl, held: map[queueLockKey]queueLock{}}
}

// Lock takes or renews the locks of queues for clientID and returns the
// queues it now holds. live reports whether a client id is still a
// member of the group; a lock whose holder is not is free.
func (l *queueLocks) Lock(group, clientID string, queues []lockedQueue, live func(clientID string) bool) []lockedQueue {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.ttl {
		l.sweepLocked(now)
	}
	got := make([]lockedQueue, 0, len(queues))
	for _, q := range queues {
		k := queueLockKey{group, q}
		cur, ok := l.held[k]
		free := !ok || cur.clientID == clientID || now.Sub(cur.renewed) > l.ttl || !live(cur.clientID)
		if !free {
			continue
		}
		l.held[k] = queueLock{clientID: clientID, renewed: now}
		got = append(got, q)
	}
	return got
}

// Unlock releases the queues clientID holds; locks of other clients stay.
func (l *queueLocks) Unlock(group, clientID string, queues []lockedQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, q := range queues {
		k := queueLockKey{group, q}
		if cur, ok := l.held[k]; ok && cur.clientID == clientID {
			delete(l.held, k)
		}
	}
}

// sweepLocked forgets lapsed locks, so that the table does not grow with
// every queue ever locked; Lock runs it once per ttl.
// REQUIRES: l.mu held.
func (l *queueLocks) sweepLocked(now time.Time) {
	l.swept = now
	for k, cur := range l.held {
		if now.Sub(cur.renewed) > l.ttl {
			delete(l.held, k)
		}
	}
}

// Held reports whether any member of group holds a live queue lock: the
// group consumes orderly.
func (l *queueLocks) Held(group string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, cur := range l.held {
		if k.group == group && now.Sub(cur.renewed) <= l.ttl {
			return true
		}
	}
	return false
}
