package broker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// hostsReplica reports whether this node holds a replica of partition
// index of t, and so opens its log.
func (b *Broker) hostsReplica(t *meta.Topic, index int32) bool {
	for _, r := range b.PartitionPlacement(t, index).Replicas {
		if r == b.cfg.NodeID {
			return true
		}
	}
	return false
}

// applyPlacements gives every open partition the role its placement in
// the newest image says, and points the replica fetchers at the leaders.
// Called after each reconcile.
func (b *Broker) applyPlacements() {
	img := b.Image()
	follow := map[int32]map[*Partition]int32{} // leader -> partition -> epoch
	for _, p := range b.allPartitions() {
		t, ok := img.Topic(p.Topic)
		if !ok || t.ID != p.topicID {
			continue
		}
		pl := b.PartitionPlacement(t, p.Index)
		if p.applyPlacement(pl, b.cfg.NodeID) {
			if follow[pl.Leader] == nil {
				follow[pl.Leader] = map[*Partition]int32{}
			}
			follow[pl.Leader][p] = pl.LeaderEpoch
		}
	}
	b.setFetchers(follow)
}

// setFetchers starts, updates and stops the per-leader fetchers.
func (b *Broker) setFetchers(follow map[int32]map[*Partition]int32) {
	b.fetchMu.Lock()
	defer b.fetchMu.Unlock()
	if b.fetchers == nil {
		b.fetchers = map[int32]*fetcher{}
	}
	select {
	case <-b.stop:
		return // closing: Close stops the fetchers
	default:
	}
	for leader, f := range b.fetchers {
		if _, ok := follow[leader]; !ok {
			f.close()
			delete(b.fetchers, leader)
		}
	}
	for leader, parts := range follow {
		f, ok := b.fetchers[leader]
		if !ok {
			f = newFetcher(b, leader)
			b.fetchers[leader] = f
		}
		f.set(parts)
	}
}

// stopFetchers stops every fetcher (at Close, before the logs close).
func (b *Broker) stopFetchers() {
	b.fetchMu.Lock()
	defer b.fetchMu.Unlock()
	for leader, f := range b.fetchers {
		f.close()
		delete(b.fetchers, leader)
	}
}

// dropFromFetchers stops fetching into partitions about to be closed.
func (b *Broker) dropFromFetchers(parts []*Partition) {
	if len(parts) == 0 {
		return
	}
	gone := map[*Partition]bool{}
	for _, p := range parts {
		gone[p] = true
	}
	b.fetchMu.Lock()
	defer b.fetchMu.Unlock()
	for _, f := range b.fetchers {
		f.mu.Lock()
		for p := range f.parts {
			if gone[p] {
				delete(f.parts, p)
			}
		}
		f.mu.Unlock()
	}
}

// errStalePlacement: the placement an ISR change was computed from is no
// longer the newest; the change is dropped (the next check recomputes it).
var errStalePlacement = errors.New("placement changed since the ISR change was computed")

// errNoActiveController: an ISR change is not proposed while the quorum
// has no leader.
var errNoActiveController = errors.New("no active controller; the ISR change waits for one")

// proposeISRChange asks the controller quorum to change partition p's ISR,
// as Kafka's AlterPartition does: the change names the leader epoch and
// partition epoch it was computed under, and is dropped if either moved.
func (b *Broker) proposeISRChange(p *Partition, epoch, partitionEpoch int32, change func([]int32) []int32) error {
	wrote := false
	if b.Controller() < 0 {
		// Without a controller a proposal waits seconds for one while
		// holding the store's update lock: one per partition led here
		// (the internal topics' included) would queue every other
		// metadata change, CreateTopics' NOT_CONTROLLER answer too, for
		// minutes. The next check proposes again.
		return errNoActiveController
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		wrote = false
		t, ok := img.Topic(p.Topic)
		if !ok || t.ID != p.topicID || int(p.Index) >= len(t.Placement) {
			return nil, meta.ErrNoChange
		}
		pl := t.Placement[p.Index]
		if pl.Leader != b.cfg.NodeID || pl.LeaderEpoch != epoch || pl.PartitionEpoch != partitionEpoch {
			return nil, errStalePlacement
		}
		isr := change(pl.ISR)
		if isr == nil {
			return nil, meta.ErrNoChange
		}
		for _, r := range isr {
			if !slices.Contains(pl.ISR, r) && !img.Live(r) {
				// A fenced broker may be catching up from a stale
				// image; it joins once the controller unfences it
				// (KIP-841).
				return nil, meta.ErrNoChange
			}
		}
		next := pl
		next.Replicas = append([]int32(nil), pl.Replicas...)
		next.ISR = isr
		next.PartitionEpoch++
		if done, ok := controller.CompleteReassignment(img, next); ok {
			// The last adding replica joined: the move completes in
			// the same record (one partition epoch).
			done.PartitionEpoch = next.PartitionEpoch
			next = done
		}
		wrote = true
		return []meta.Record{{Placement: &meta.PlacementRecord{Topic: p.Topic, Partition: p.Index, Placement: next}}}, nil
	})
	if err != nil && !errors.Is(err, meta.ErrNoChange) {
		return fmt.Errorf("propose ISR of %s-%d: %w", p.Topic, p.Index, err)
	}
	if !wrote {
		return errISRUnchanged
	}
	return nil
}

// errISRUnchanged: the proposal found nothing to change (the change was
// made already, or may not be made yet) and wrote nothing.
var errISRUnchanged = errors.New("ISR change not needed")

// replicationLoop shrinks the ISR of led partitions whose followers fell
// behind, and checkpoints high watermarks.
func (b *Broker) replicationLoop() {
	defer b.wg.Done()
	lagMax := b.cfg.ReplicaLagTimeMax
	tick := time.NewTicker(max(lagMax/4, 50*time.Millisecond))
	defer tick.Stop()
	lastCheckpoint := time.Now()
	for {
		select {
		case <-b.stop:
			return
		case now := <-tick.C:
			for _, p := range b.allPartitions() {
				if p.repl.replicated.Load() && p.Leading() {
					p.shrinkISR(now, lagMax)
				}
			}
			if now.Sub(lastCheckpoint) >= time.Second {
				lastCheckpoint = now
				b.checkpointHighWatermarks()
			}
		}
	}
}
