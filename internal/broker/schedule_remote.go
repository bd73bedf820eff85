package broker

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/schedule"
)

// Scheduled delivery to a partition another broker leads. The scheduler
// runs on the leader of __scheduled-0 but its messages target any
// partition: a due batch for a partition led elsewhere is sent to that
// leader in a Produce request (acks=-1) over the peer connections the
// transaction markers use, and the leader appends it as is, without
// looking at its scheduling headers again (kafka: a Produce from a peer
// broker). A leader that moved or is offline, or a peer that cannot be
// reached, is retried with backoff until scheduledDeliveryTimeout; after
// that the scheduler retries the messages in its next round
// (at-least-once: a batch the leader appended but did not acknowledge is
// delivered again).

// PeerClientIDPrefix starts the client id of every request a broker sends
// another (replica fetches, transaction markers, scheduled deliveries).
const PeerClientIDPrefix = "ferry-replica-"

// remoteTarget names a target partition in scheduledChains.
type remoteTarget struct {
	topic string
	index int32
}

// scheduledChains keeps the remote deliveries to one partition in the
// order the scheduler made them: each waits until the one before it to
// the same partition has been answered, as local appends keep their order.
type scheduledChains struct {
	mu   sync.Mutex
	last map[remoteTarget]chan struct{}
}

// next returns the channel the new delivery waits on (nil if none is
// running) and the one it closes when answered.
func (c *scheduledChains) next(t remoteTarget) (prev <-chan struct{}, done chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[remoteTarget]chan struct{}{}
	}
	done = make(chan struct{})
	if p, ok := c.last[t]; ok {
		prev = p
	}
	c.last[t] = done
	return prev, done
}

// finished forgets done when no later delivery to t waits on it.
func (c *scheduledChains) finished(t remoteTarget, done chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(done)
	if c.last[t] == done {
		delete(c.last, t)
	}
}

// deliverScheduledRemote returns the wait of a batch for a partition led
// by another broker: the wait sends it, in order after the deliveries to
// that partition before it, and returns once the leader acknowledged it.
func (b *Broker) deliverScheduledRemote(topic string, index int32, batch []byte) func() error {
	t := remoteTarget{topic, index}
	prev, done := b.schedChains.next(t)
	return func() error {
		defer b.schedChains.finished(t, done)
		if prev != nil {
			select {
			case <-prev:
			case <-b.stop:
				return fmt.Errorf("%w: broker stopping", kerr.NotLeaderForPartition)
			}
		}
		return b.produceScheduled(topic, index, batch)
	}
}

// produceScheduled appends batch to its partition's current leader, here
// or on a peer, retrying retriable failures until scheduledDeliveryTimeout.
func (b *Broker) produceScheduled(topic string, index int32, batch []byte) error {
	route := b.newMarkerRoute()
	deadline := time.Now().Add(scheduledDeliveryTimeout)
	backoff := markerBackoffMin
	for {
		leader, ok := route.leader(topic, index)
		if !ok {
			return fmt.Errorf("%w: %s-%d", schedule.ErrTargetGone, topic, index)
		}
		var err error
		switch {
		case leader == b.cfg.NodeID:
			var wait func() error
			if wait, err = b.appendScheduledLocal(topic, index, batch); err == nil {
				err = wait()
			}
		case leader < 0:
			err = fmt.Errorf("%w: %s-%d has no leader", kerr.LeaderNotAvailable, topic, index)
		default:
			_, err = b.sendScheduled(leader, topic, index, batch)
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, schedule.ErrTargetGone) || !retriableMarkerError(err) || !time.Now().Before(deadline) {
			return fmt.Errorf("scheduled delivery to %s-%d (leader %d): %w", topic, index, leader, err)
		}
		if !route.wait(backoff) {
			return err
		}
		backoff = min(2*backoff, markerBackoffMax)
	}
}

// sendScheduled sends batch to node, the partition's leader, in a Produce
// request with acks=-1 and returns the partition's error.
func (b *Broker) sendScheduled(node int32, topic string, index int32, batch []byte) (baseOffset int64, err error) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 7
	req.Acks = -1
	// Under peerRequestTimeout, so the leader answers before the
	// connection gives up.
	req.TimeoutMillis = int32((peerRequestTimeout - 2*time.Second) / time.Millisecond)
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = index, batch
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	kresp, err := b.peers.request(node, req, peerRequestTimeout, func(node int32) (*peerConn, error) {
		return b.dialNode(node, replicaTimeout)
	})
	if err != nil {
		return 0, err
	}
	resp := kresp.(*kmsg.ProduceResponse)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic == topic && p.Partition == index {
				return p.BaseOffset, kerr.ErrorForCode(p.ErrorCode)
			}
		}
	}
	return 0, fmt.Errorf("broker %d answered Produce without %s-%d", node, topic, index)
}

// peerClientID is the client id of this node's requests to its peers.
func peerClientID(self int32) string {
	return PeerClientIDPrefix + strconv.Itoa(int(self))
}

// scheduledLeader returns the node leading __scheduled-0, -1 if none.
func (b *Broker) scheduledLeader() int32 {
	t, ok := b.Image().Topic(ScheduledTopic)
	if !ok {
		return -1
	}
	return b.PartitionPlacement(t, 0).Leader
}

// forwardScheduled stores a batch of scheduled and cancel records
// (schedule.EncodeBatch) in __scheduled on node, its leader, for a
// scheduled produce that reached this node. One attempt: a failure goes
// back to the producer, which retries (NOT_COORDINATOR and network errors
// are retriable).
func (b *Broker) forwardScheduled(node int32, batch []byte) error {
	_, err := b.sendScheduled(node, ScheduledTopic, 0, batch)
	return forwardError(node, err)
}

// forwardError is a failed forward as the producer should see it.
func forwardError(node int32, err error) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return err
	}
	return fmt.Errorf("%w: forwarding to node %d, which leads %s: %v", kerr.NotCoordinator, node, ScheduledTopic, err)
}

// StoreScheduled is schedule.Scheduler.Store for a protocol front on any
// node: on the node leading __scheduled-0 it stores there; elsewhere it
// forwards the records to that node and returns once it acknowledged them
// (acks=all; wait then has nothing left to wait for). Errors are Kafka's
// (NOT_COORDINATOR when no node can take them now).
func (b *Broker) StoreScheduled(msgs []schedule.Message, cancels []schedule.Cancel) (first int64, wait func() error, err error) {
	sched, err := b.Scheduler()
	if err == nil {
		return sched.Store(msgs, cancels)
	}
	node := b.scheduledLeader()
	if node < 0 || node == b.cfg.NodeID {
		return 0, nil, err
	}
	batch, err := schedule.EncodeBatch(msgs, cancels, time.Now())
	if err != nil {
		return 0, nil, err
	}
	first, err = b.sendScheduled(node, ScheduledTopic, 0, batch)
	if err != nil {
		return 0, nil, forwardError(node, err)
	}
	return first, func() error { return nil }, nil
}
