package broker

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/meta"
)

// replicaState is a partition's part in replication: its role under the
// newest placement, and on the leader what each follower has fetched.
//
// The high watermark of a replicated partition is the lowest log end among
// the ISR as the leader knows it: its own durable end and each ISR
// follower's last fetch offset (a follower fetches offset N only once it
// holds, and under flush.policy=always has fsynced, everything below N).
// It never goes down. A partition with one replica has no replicaState
// worth the name: its high watermark is the log's (see HighWatermark).
type replicaState struct {
	mu             sync.Mutex
	self           int32
	leader         int32 // -1: offline
	epoch          int32 // leader epoch of the placement applied
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	adding         []int32 // replicas a running reassignment adds
	epochStart     int64   // log end when this node became leader at epoch
	followers      map[int32]*followerState
	isrChanging    bool // an ISR change is being proposed
	// joining are the followers whose addition to the ISR is proposed:
	// the high watermark counts it from the proposal until the placement
	// holding it is applied (Kafka's "maximal ISR", KIP-497), so a
	// record acknowledged meanwhile is on it too, and it can lead as
	// soon as the ISR names it (a reassignment hands it leadership in
	// the very record that adds it). Nil: none.
	joining []int32

	replicated atomic.Bool  // more than one replica
	moving     atomic.Bool  // a reassignment adds replicas (adding is set)
	leading    atomic.Bool  // this node leads under epoch
	hw         atomic.Int64 // replicated high watermark, see above
}

// followerState is what the leader knows of one follower.
type followerState struct {
	logEnd       int64     // offset of its last fetch; -1 before one
	lastCaughtUp time.Time // last time it had everything the leader had
	lastFetch    time.Time
	endAtFetch   int64 // the leader's log end at lastFetch
}

// applyPlacement moves the partition to the role pl gives node self. It
// returns whether this node now follows a leader (and so needs a fetcher).
func (p *Partition) applyPlacement(pl meta.Placement, self int32) (follow bool) {
	rs := &p.repl
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.replicas != nil && pl.LeaderEpoch == rs.epoch && pl.PartitionEpoch == rs.partitionEpoch && pl.Leader == rs.leader {
		return pl.Leader != self && pl.Leader >= 0
	}
	wasLeading := rs.leading.Load()
	changed := rs.replicas == nil || pl.Leader != rs.leader || pl.LeaderEpoch != rs.epoch
	if !changed && wasLeading && p.metrics != nil && len(pl.ISR) != len(rs.isr) {
		// Whoever proposed it (this leader, or the controller fencing a
		// broker), the ISR of a partition led here changed.
		p.metrics.isrChanged(len(pl.ISR) < len(rs.isr))
	}
	rs.self = self
	rs.joining = nil // the applied ISR says whether it joined
	rs.replicas = slices.Clone(pl.Replicas)
	rs.isr = slices.Clone(pl.ISR)
	rs.adding = slices.Clone(pl.Adding)
	rs.moving.Store(len(pl.Adding) > 0)
	rs.partitionEpoch = pl.PartitionEpoch
	if !rs.replicated.Load() && len(pl.Replicas) > 1 && rs.leading.Load() && !changed {
		// A reassignment gives a partition led alone a second
		// replica: what its log committed alone stays committed.
		rs.hw.Store(max(rs.hw.Load(), p.log.HighWatermark()))
	}
	rs.replicated.Store(len(pl.Replicas) > 1)
	if !changed {
		if rs.leading.Load() {
			p.syncFollowersLocked(pl.Replicas)
			// A smaller ISR may let the high watermark move at once.
			if hw := p.replicatedEndLocked(); hw > rs.hw.Load() {
				defer p.raiseHW(hw)
			}
		}
		return pl.Leader != self && pl.Leader >= 0
	}
	rs.leader, rs.epoch = pl.Leader, pl.LeaderEpoch
	if pl.Leader == self {
		if err := p.log.SetLeaderEpoch(pl.LeaderEpoch); err != nil {
			// The log holds a newer epoch than the placement: never
			// lead with an older one.
			p.logger.Error("cannot lead: the log holds a newer leader epoch than the placement", "epoch", pl.LeaderEpoch, "err", err)
			rs.leading.Store(false)
			return false
		}
		rs.epochStart = p.log.EndOffset()
		rs.followers = map[int32]*followerState{}
		now := time.Now()
		for _, r := range pl.Replicas {
			if r != self {
				rs.followers[r] = &followerState{logEnd: -1, lastCaughtUp: now, lastFetch: now}
			}
		}
		if !rs.replicated.Load() {
			rs.hw.Store(0)
		} else if !wasLeading {
			// Start from what this node knew as a follower (or its
			// checkpoint); followers' fetches raise it from there.
			rs.hw.Store(min(max(rs.hw.Load(), p.loadedHW), p.log.HighWatermark()))
		}
		if hw := p.replicatedEndLocked(); hw > rs.hw.Load() {
			rs.hw.Store(hw) // alone in the ISR: committed at once
		}
		rs.leading.Store(true)
		p.logger.Info("leading partition", "epoch", pl.LeaderEpoch, "replicas", pl.Replicas, "isr", pl.ISR, "log_end", rs.epochStart)
		return false
	}
	rs.leading.Store(false)
	rs.followers = nil
	if wasLeading {
		p.logger.Info("following partition", "leader", pl.Leader, "epoch", pl.LeaderEpoch)
	}
	p.wakeWaiters(0) // produce requests waiting for the ISR answer now
	return pl.Leader >= 0
}

// syncFollowersLocked gives the leader a follower state for each replica a
// reassignment added (it fetches from scratch) and drops those removed.
// REQUIRES: rs.mu held, this node leading.
func (p *Partition) syncFollowersLocked(replicas []int32) {
	rs := &p.repl
	now := time.Now()
	for _, r := range replicas {
		if _, ok := rs.followers[r]; !ok && r != rs.self {
			rs.followers[r] = &followerState{logEnd: -1, lastCaughtUp: now, lastFetch: now}
		}
	}
	for r := range rs.followers {
		if !slices.Contains(replicas, r) {
			delete(rs.followers, r)
		}
	}
}

// Replicated reports whether the partition has more than one replica.
func (p *Partition) Replicated() bool { return p.repl.replicated.Load() }

// Leading reports whether this node leads the partition.
func (p *Partition) Leading() bool { return p.repl.leading.Load() }

// CheckEstablished refuses reads of the high watermark from a new leader
// that has not yet committed up to the start of its epoch: it took over
// with the high watermark it knew as a follower, which may be below the
// one the old leader had published, and clients must never see the high
// watermark go back. Kafka answers ListOffsets OFFSET_NOT_AVAILABLE in
// that window; so does Ferry, for consumer fetches too (a retriable code
// clients retry on), until the followers' first fetches raise it.
func (p *Partition) CheckEstablished() error {
	if !p.repl.replicated.Load() {
		return nil
	}
	p.repl.mu.Lock()
	start := p.repl.epochStart
	p.repl.mu.Unlock()
	if hw := p.repl.hw.Load(); hw < start {
		return fmt.Errorf("%w: %s-%d: new leader's high watermark %d is below its epoch start %d", kerr.OffsetNotAvailable, p.Topic, p.Index, hw, start)
	}
	return nil
}

// HighWatermark is the offset below which records are committed: visible
// to consumers and safe from truncation.
func (p *Partition) HighWatermark() int64 {
	if !p.repl.replicated.Load() {
		return p.log.HighWatermark()
	}
	return min(p.repl.hw.Load(), p.log.HighWatermark())
}

// onLogAdvance runs when the local log's durable end moves: a leader
// whose ISR is itself alone (or whose followers are ahead) commits there.
func (p *Partition) onLogAdvance(end int64) {
	if p.repl.replicated.Load() && p.repl.leading.Load() {
		rs := &p.repl
		rs.mu.Lock()
		hw := p.replicatedEndLocked()
		rs.mu.Unlock()
		if hw > rs.hw.Load() {
			p.raiseHW(hw)
			return // raiseHW woke the waiters
		}
	}
	p.wakeWaiters(end)
}

// raiseHW moves the replicated high watermark up to hw and wakes waiters.
func (p *Partition) raiseHW(hw int64) {
	for {
		cur := p.repl.hw.Load()
		if hw <= cur {
			return
		}
		if p.repl.hw.CompareAndSwap(cur, hw) {
			p.wakeWaiters(hw)
			return
		}
	}
}

// FollowerFetched records a fetch by follower node at offset (the log end
// it holds) under leader epoch, and advances the high watermark. It
// returns an error code for a fetch this leader must not count: from a
// node that is not a replica, or under another epoch.
func (p *Partition) FollowerFetched(node int32, epoch int32, offset int64, now time.Time) error {
	rs := &p.repl
	rs.mu.Lock()
	if !rs.leading.Load() {
		rs.mu.Unlock()
		return fmt.Errorf("%w: %s-%d is not led here", kerr.NotLeaderForPartition, p.Topic, p.Index)
	}
	if epoch >= 0 && epoch != rs.epoch {
		cur := rs.epoch
		rs.mu.Unlock()
		if epoch < cur {
			return fmt.Errorf("%w: follower epoch %d, leader %d", kerr.FencedLeaderEpoch, epoch, cur)
		}
		return fmt.Errorf("%w: follower epoch %d, leader %d", kerr.UnknownLeaderEpoch, epoch, cur)
	}
	f, ok := rs.followers[node]
	if !ok {
		rs.mu.Unlock()
		return fmt.Errorf("%w: node %d is not a replica of %s-%d", kerr.NotLeaderForPartition, node, p.Topic, p.Index)
	}
	leaderEnd := p.log.EndOffset()
	switch {
	case offset >= leaderEnd:
		f.lastCaughtUp = now
	case offset >= f.endAtFetch && f.lastFetch.After(f.lastCaughtUp):
		f.lastCaughtUp = f.lastFetch
	}
	f.logEnd, f.lastFetch, f.endAtFetch = offset, now, leaderEnd
	if !slices.Contains(rs.isr, node) && offset >= max(p.HighWatermark(), rs.epochStart) && !rs.isrChanging && p.proposer != nil {
		// It joins: counted in the high watermark from here (before
		// the high watermark below is computed), and the proposal is
		// claimed in the same critical section, so no other change
		// can take its place.
		rs.joining = append(rs.joining, node)
		p.startISRProposalLocked(func(isr []int32) []int32 {
			if slices.Contains(isr, node) {
				return nil
			}
			return append(isr, node)
		}, "follower caught up", node)
	}
	hw := p.replicatedEndLocked()
	rs.mu.Unlock()
	p.raiseHW(hw)
	return nil
}

// replicatedEndLocked is the lowest log end over the ISR.
// REQUIRES: rs.mu held.
func (p *Partition) replicatedEndLocked() int64 {
	rs := &p.repl
	end := p.log.HighWatermark()
	for _, r := range rs.isr {
		if r == rs.self {
			continue
		}
		f, ok := rs.followers[r]
		if !ok || f.logEnd < 0 {
			return -1 // not heard from since this node took over
		}
		end = min(end, f.logEnd)
	}
	for _, r := range rs.joining {
		if f, ok := rs.followers[r]; ok && !slices.Contains(rs.isr, r) {
			end = min(end, max(f.logEnd, 0))
		}
	}
	return end
}

// shrinkISR drops followers of the ISR that have not caught up within
// lagMax. The leader proposes the change through the controller, and the
// high watermark keeps counting them until the change is committed, so the
// ISR on record is never smaller than the set that holds the committed
// records.
func (p *Partition) shrinkISR(now time.Time, lagMax time.Duration) {
	rs := &p.repl
	rs.mu.Lock()
	if !rs.leading.Load() || rs.isrChanging {
		rs.mu.Unlock()
		return
	}
	var lagging []int32
	for _, r := range rs.isr {
		if f, ok := rs.followers[r]; ok && now.Sub(f.lastCaughtUp) > lagMax {
			lagging = append(lagging, r)
		}
	}
	rs.mu.Unlock()
	if len(lagging) == 0 {
		return
	}
	p.proposeISR(func(isr []int32) []int32 {
		out := slices.DeleteFunc(slices.Clone(isr), func(r int32) bool { return slices.Contains(lagging, r) })
		if len(out) == len(isr) {
			return nil
		}
		return out
	}, "followers lagging", lagging...)
}

// isrProposer is how a partition asks the controller to change its ISR;
// the broker sets it (see replication.go).
type isrProposer func(p *Partition, epoch, partitionEpoch int32, change func([]int32) []int32) error

// proposeISR sends an ISR change in the background, one at a time per
// partition.
func (p *Partition) proposeISR(change func([]int32) []int32, why string, nodes ...int32) {
	rs := &p.repl
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.isrChanging || p.proposer == nil {
		return
	}
	p.startISRProposalLocked(change, why, nodes...)
}

// startISRProposalLocked sends an ISR change in the background.
// REQUIRES: rs.mu held, no proposal running, p.proposer set.
func (p *Partition) startISRProposalLocked(change func([]int32) []int32, why string, nodes ...int32) {
	rs := &p.repl
	rs.isrChanging = true
	epoch, pepoch := rs.epoch, rs.partitionEpoch
	go func() {
		err := p.proposer(p, epoch, pepoch, change)
		rs.mu.Lock()
		rs.isrChanging = false
		if err != nil {
			// Not written: the ISR stays as applied. (Written, a
			// joiner counts until its placement is applied.)
			rs.dropJoiningLocked(nodes)
		}
		rs.mu.Unlock()
		if errors.Is(err, errISRUnchanged) {
			return
		}
		if err != nil {
			p.logger.Warn("ISR change not made", "why", why, "nodes", nodes, "err", err)
			return
		}
		p.logger.Info("ISR change proposed", "why", why, "nodes", nodes)
	}()
}

// dropJoiningLocked stops counting nodes as joining the ISR.
// REQUIRES: rs.mu held.
func (rs *replicaState) dropJoiningLocked(nodes []int32) {
	rs.joining = slices.DeleteFunc(rs.joining, func(r int32) bool { return slices.Contains(nodes, r) })
}

// CheckMinISR refuses an acks=all produce when the ISR is smaller than
// min.insync.replicas.
func (p *Partition) CheckMinISR() error {
	if !p.repl.replicated.Load() {
		return nil
	}
	rs := &p.repl
	rs.mu.Lock()
	n := len(rs.isr)
	rs.mu.Unlock()
	if want := p.minISR(); n < want {
		return fmt.Errorf("%w: %s-%d has %d in-sync replicas, min.insync.replicas is %d", kerr.NotEnoughReplicas, p.Topic, p.Index, n, want)
	}
	return nil
}

func (p *Partition) minISR() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(1, int(p.config.MinInsyncReplicas))
}

// WaitReplicated waits until the high watermark reaches upTo (acks=all),
// for at most timeout.
func (p *Partition) WaitReplicated(upTo int64, timeout time.Duration) error {
	if !p.repl.replicated.Load() {
		return nil
	}
	ch := make(chan struct{}, 1)
	p.Watch(ch)
	defer p.Unwatch(ch)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		if !p.Leading() {
			return fmt.Errorf("%w: %s-%d lost its leadership before the record was replicated", kerr.NotLeaderForPartition, p.Topic, p.Index)
		}
		if p.HighWatermark() >= upTo {
			rs := &p.repl
			rs.mu.Lock()
			n := len(rs.isr)
			rs.mu.Unlock()
			if want := p.minISR(); n < want {
				return fmt.Errorf("%w: %s-%d has %d in-sync replicas, min.insync.replicas is %d", kerr.NotEnoughReplicasAfterAppend, p.Topic, p.Index, n, want)
			}
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("%w: %s-%d: in-sync replicas did not copy the record within %v", kerr.RequestTimedOut, p.Topic, p.Index, timeout)
		}
	}
}
