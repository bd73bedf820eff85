package broker

import "sync"

// leadershipWatchers are signalled where the scheduler and the coordinator
// shards follow leadership (after every reconcile and when a replica moves
// off this node), so that services outside this package (the RocketMQ
// half-message store) can follow the leadership of a partition the same
// way: on a signal, look at LeadingEpoch and open or close.
type leadershipWatchers struct {
	mu  sync.Mutex
	chs []chan<- struct{}
}

// WatchLeadership registers ch to be signalled, without blocking (give it a
// buffer of 1), whenever the leadership of this node's partitions may have
// changed.
func (b *Broker) WatchLeadership(ch chan<- struct{}) {
	b.leaderWatch.mu.Lock()
	defer b.leaderWatch.mu.Unlock()
	b.leaderWatch.chs = append(b.leaderWatch.chs, ch)
}

// notifyLeadershipWatchers signals every channel WatchLeadership registered.
func (b *Broker) notifyLeadershipWatchers() {
	b.leaderWatch.mu.Lock()
	defer b.leaderWatch.mu.Unlock()
	for _, ch := range b.leaderWatch.chs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// LeadingEpoch returns the leader epoch under which this node leads p, and
// false when it does not lead it.
func (p *Partition) LeadingEpoch() (int32, bool) { return p.leaderEpoch() }
