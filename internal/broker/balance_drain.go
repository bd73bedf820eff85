package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/meta"
)

// DrainingConfig is the broker config that marks a broker draining: set
// with IncrementalAlterConfigs on the BROKER resource of its node id
// (`ferry cluster decommission N` does), read with DescribeConfigs. It is
// Ferry's own key; Kafka has no draining state, Cruise Control keeps it
// outside the brokers.
const DrainingConfig = "ferry.broker.draining"

// SetDraining marks node draining (or clears the mark) in the metadata:
// from then on no new replica is placed on it, and the active controller
// moves its replicas to the other brokers (balance.go). Any broker may be
// asked; the record goes through the controller quorum. A node that is
// not registered is refused, and so is a single node, which has nowhere
// to drain to.
func (b *Broker) SetDraining(node int32, draining, validateOnly bool) error {
	if !b.Clustered() {
		return fmt.Errorf("%w: a single node has no other broker to drain to", kerr.InvalidRequest)
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		if _, ok := img.Broker(node); !ok {
			return nil, fmt.Errorf("%w: broker %d is not registered", kerr.InvalidRequest, node)
		}
		if validateOnly || img.Draining(node) == draining {
			return nil, meta.ErrNoChange
		}
		return []meta.Record{{Drain: &meta.DrainRecord{NodeID: node, Draining: draining}}}, nil
	})
	if err != nil {
		return err
	}
	if !validateOnly {
		b.log.Info("broker draining mark set", "node", node, "draining", draining)
	}
	return nil
}

// Draining reports whether node is marked draining.
func (b *Broker) Draining(node int32) bool { return b.Image().Draining(node) }
