package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/group"
)

// Transaction markers in a cluster. The transaction coordinator ends a
// transaction by writing a commit or abort marker to every partition in it;
// each marker goes to the partition's current leader: appended here when
// this broker leads the partition, else sent in a WriteTxnMarkers request
// (key 27) to the leader, as Kafka's coordinator does. A leader that moved
// or is offline, or a peer that cannot be reached, is retried with backoff
// until markerRetryTimeout; after that the transaction stays in its Prepare
// state and the coordinator's Tick tries again, so a marker is written
// eventually whatever failed. Writing a marker twice is harmless: readers
// and the partition's transaction state ignore a marker with no open
// transaction of its producer.

const (
	markerRetryTimeout = 30 * time.Second
	markerBackoffMin   = 50 * time.Millisecond
	markerBackoffMax   = time.Second
	// peerRequestTimeout bounds one coordinator request to a peer; the
	// peer's append and fsync run within it.
	peerRequestTimeout = 10 * time.Second
)

// txnMarker is one marker for one partition.
type txnMarker struct {
	topic      string
	partition  int32
	producerID int64
	epoch      int16
	commit     bool
}

// markerRoute is how a marker reaches its partition's leader; its funcs are
// the broker's (newMarkerRoute) or a test's.
type markerRoute struct {
	self int32
	// leader returns the partition's leader (-1 when offline), and false
	// when the partition no longer exists.
	leader func(topic string, partition int32) (int32, bool)
	local  func(m txnMarker) error
	remote func(node int32, m txnMarker) error
	// wait sleeps d and reports false if the broker is stopping.
	wait    func(d time.Duration) bool
	timeout time.Duration
}

// write delivers m, retrying retriable failures (leader moved or offline,
// peer unreachable) until r.timeout passes.
func (r markerRoute) write(m txnMarker) error {
	deadline := time.Now().Add(r.timeout)
	backoff := markerBackoffMin
	for {
		leader, ok := r.leader(m.topic, m.partition)
		if !ok {
			return nil // deleted since it joined the transaction
		}
		var err error
		switch {
		case leader == r.self:
			err = r.local(m)
		case leader < 0:
			err = fmt.Errorf("%w: %s-%d has no leader", kerr.LeaderNotAvailable, m.topic, m.partition)
		default:
			err = r.remote(leader, m)
		}
		if err == nil {
			return nil
		}
		if !retriableMarkerError(err) || !time.Now().Before(deadline) {
			return fmt.Errorf("marker for %s-%d (leader %d): %w", m.topic, m.partition, leader, err)
		}
		if !r.wait(backoff) {
			return err
		}
		backoff = min(2*backoff, markerBackoffMax)
	}
}

// retriableMarkerError: Kafka's retriable codes (NOT_LEADER_OR_FOLLOWER,
// LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION while a new leader opens
// the partition, NOT_ENOUGH_REPLICAS …) and every network error.
func retriableMarkerError(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true
}

// newMarkerRoute routes markers through this broker's metadata and peers.
func (b *Broker) newMarkerRoute() markerRoute {
	return markerRoute{
		self: b.cfg.NodeID,
		leader: func(topic string, partition int32) (int32, bool) {
			t, ok := b.Image().Topic(topic)
			if !ok || partition < 0 || partition >= t.Partitions {
				return -1, false
			}
			return b.PartitionPlacement(t, partition).Leader, true
		},
		local: func(m txnMarker) error {
			return b.WriteTxnMarker(m.topic, m.partition, m.producerID, m.epoch, m.commit)
		},
		remote: b.sendTxnMarker,
		wait: func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-b.stop:
				return false
			case <-t.C:
				return true
			}
		},
		timeout: markerRetryTimeout,
	}
}

// WriteTxnMarker appends a transaction marker to a partition this broker
// leads and returns once it is durable: the local end of WriteTxnMarkers.
// Errors are Kafka's (NOT_LEADER_OR_FOLLOWER when another broker leads).
// A marker for __consumer_offsets goes through the group coordinator of
// the partition, which ends the transaction's pending offsets with it.
func (b *Broker) WriteTxnMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) error {
	p, err := b.Partition(topic, partition)
	if err != nil {
		return err
	}
	if topic == ConsumerOffsetsTopic {
		gc, err := b.groupCoordinatorOfPartition(partition)
		if err != nil {
			return err
		}
		return gc.CompleteTxn(producerID, epoch, commit)
	}
	return p.WriteMarker(producerID, epoch, commit)
}

// groupCoordinatorOfPartition returns the group coordinator that keeps its
// state in a partition of __consumer_offsets led here.
func (b *Broker) groupCoordinatorOfPartition(partition int32) (*group.Coordinator, error) {
	s := b.coords.snapshot().groups[partition]
	switch {
	case s == nil:
		return nil, fmt.Errorf("%w: no group coordinator for %s-%d here", kerr.NotCoordinator, ConsumerOffsetsTopic, partition)
	case !ready(s.loaded):
		return nil, kerr.CoordinatorLoadInProgress
	case s.failed:
		return nil, fmt.Errorf("%w: the group coordinator of %s-%d failed to load", kerr.NotCoordinator, ConsumerOffsetsTopic, partition)
	}
	return s.c, nil
}

// AppendMarker appends the marker that ends a transaction's pending
// offsets (group.MarkerLog), refused like Append once this node no longer
// leads the partition under the shard's epoch; Sync makes it durable on
// the ISR.
func (l *offsetsLog) AppendMarker(producerID int64, epoch int16, commit bool) (int64, error) {
	if e, ok := l.p.leaderEpoch(); !ok || e != l.epoch {
		return 0, fmt.Errorf("%w: %s-%d is no longer led here under epoch %d", kerr.NotCoordinator, l.p.Topic, l.p.Index, l.epoch)
	}
	return l.p.appendMarker(producerID, epoch, commit)
}

// sendTxnMarker sends one marker to the leader node in a WriteTxnMarkers
// request and returns the partition's error.
func (b *Broker) sendTxnMarker(node int32, m txnMarker) error {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	rm := kmsg.NewWriteTxnMarkersRequestMarker()
	rm.ProducerID, rm.ProducerEpoch, rm.Committed = m.producerID, m.epoch, m.commit
	rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	rt.Topic = m.topic
	rt.Partitions = []int32{m.partition}
	rm.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{rt}
	req.Markers = []kmsg.WriteTxnMarkersRequestMarker{rm}
	kresp, err := b.peers.request(node, req, peerRequestTimeout, func(node int32) (*peerConn, error) {
		return b.dialNode(node, replicaTimeout)
	})
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.WriteTxnMarkersResponse)
	for _, mk := range resp.Markers {
		for _, t := range mk.Topics {
			for _, p := range t.Partitions {
				if t.Topic == m.topic && p.Partition == m.partition {
					return kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	}
	return fmt.Errorf("broker %d answered WriteTxnMarkers without %s-%d", node, m.topic, m.partition)
}
