package broker

import (
	"testing"
	"time"
)

// A follower whose addition to the ISR is proposed counts in the high
// watermark from the proposal on (Kafka's maximal ISR): a record
// acknowledged while the proposal is in flight is on it, so it may lead as
// soon as the ISR names it — a reassignment makes it leader in the very
// record that adds it. Before this, the leader acknowledged records only
// the old ISR held, and a move off the leader lost them.
func TestJoiningFollowerHoldsBackTheHighWatermark(t *testing.T) {
	p, props := leaderReplica(t, []int32{0, 1})
	end := appendRecords(t, p, 3)
	now := time.Now()
	p.FollowerFetched(1, 1, end, now)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("high watermark %d, want %d", hw, end)
	}
	// Follower 2 caught up: its addition is proposed.
	p.FollowerFetched(2, 1, end, now)
	props.wait(t, 1)
	more := appendRecords(t, p, 4)
	p.FollowerFetched(1, 1, more, now)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("high watermark %d passed the joining follower's log end %d", hw, end)
	}
	p.FollowerFetched(2, 1, more, now)
	if hw := p.HighWatermark(); hw != more {
		t.Fatalf("high watermark %d, want %d once the joiner has it", hw, more)
	}
}

// Two followers catch up at once: the second one's expansion waits for the
// first's proposal (one at a time) and must not stop the first from
// counting in the high watermark while its proposal is in flight.
func TestSecondJoinerDoesNotDropTheFirst(t *testing.T) {
	p, _ := leaderReplica(t, []int32{0})
	release := make(chan struct{})
	proposed := make(chan struct{}, 2)
	p.proposer = func(*Partition, int32, int32, func([]int32) []int32) error {
		proposed <- struct{}{}
		<-release
		return nil
	}
	defer close(release)
	end := appendRecords(t, p, 3)
	now := time.Now()
	p.FollowerFetched(1, 1, end, now) // proposal for 1 starts and blocks
	<-proposed
	p.FollowerFetched(2, 1, end, now) // 1's proposal runs: 2 waits
	more := appendRecords(t, p, 2)
	p.FollowerFetched(2, 1, more, now)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("high watermark %d passed joining follower 1's log end %d", hw, end)
	}
}
