package broker

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/meta"
)

// partitionKey names one partition.
type partitionKey struct {
	topic     string
	partition int32
}

// partitionSizes asks every live broker for the size of the replicas it
// holds (DescribeLogDirs over the peer connection, as the inter-broker
// user) and returns the largest size seen per partition: the leader's,
// or a follower's when the leader did not answer. Brokers that do not
// answer are logged and skipped; their partitions count what the others
// report, or 0.
func (b *Broker) partitionSizes(img *meta.Image) map[partitionKey]int64 {
	out := map[partitionKey]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, bi := range img.LiveBrokers() {
		wg.Add(1)
		go func(bi meta.BrokerInfo) {
			defer wg.Done()
			sizes, err := b.replicaSizes(bi)
			if err != nil {
				b.log.Warn("balancer: cannot read a broker's replica sizes; its partitions count as smaller", "node", bi.NodeID, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for k, n := range sizes {
				out[k] = max(out[k], n)
			}
		}(bi)
	}
	wg.Wait()
	return out
}

// replicaSizes returns the size of each replica bi holds.
func (b *Broker) replicaSizes(bi meta.BrokerInfo) (map[partitionKey]int64, error) {
	out := map[partitionKey]int64{}
	if bi.NodeID == b.cfg.NodeID {
		for _, p := range b.allPartitions() {
			out[partitionKey{p.Topic, p.Index}] = p.Log().Size()
		}
		return out, nil
	}
	pc, err := b.dialBroker(bi)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Version = 1
	kresp, err := pc.roundTrip(req, replicaTimeout)
	if err != nil {
		return nil, err
	}
	for _, d := range kresp.(*kmsg.DescribeLogDirsResponse).Dirs {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				out[partitionKey{t.Topic, p.Partition}] = p.Size
			}
		}
	}
	return out, nil
}

// dialBroker opens a peer connection to bi's Kafka listener, with TLS and
// SASL as the inter-broker user when the cluster uses them.
func (b *Broker) dialBroker(bi meta.BrokerInfo) (*peerConn, error) {
	return b.dialBrokerWithin(bi, replicaTimeout)
}
