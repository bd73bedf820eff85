package meta

import (
	"fmt"
	"maps"
	"slices"
)

// DrainRecord marks a broker draining, or clears the mark. A draining
// broker gets no new replicas (topic creation and added partitions skip
// it) and the active controller's balancer moves every replica it holds
// to other brokers; once it holds none it is drained and can be stopped
// without any partition dropping below its replication factor. The mark
// is kept apart from BrokerRecord on purpose: the controller rewrites a
// broker's BrokerRecord on every registration and fencing, and the mark
// must survive those (and a restart of the drained process).
type DrainRecord struct {
	NodeID   int32 `json:"node_id"`
	Draining bool  `json:"draining"`
}

// applyDrain returns the draining set after r. Marking a broker that is
// not registered is refused: a typo must not leave a mark that would
// silently exclude a future broker of that id.
func (img *Image) applyDrain(r *DrainRecord) (map[int32]bool, error) {
	if _, ok := img.brokers[r.NodeID]; !ok && r.Draining {
		return nil, fmt.Errorf("broker %d is not registered and cannot be drained", r.NodeID)
	}
	next := maps.Clone(img.draining)
	if next == nil {
		next = map[int32]bool{}
	}
	if r.Draining {
		next[r.NodeID] = true
	} else {
		delete(next, r.NodeID)
	}
	return next, nil
}

// Draining reports whether node is marked draining.
func (img *Image) Draining(node int32) bool { return img.draining[node] }

// DrainingBrokers returns the brokers marked draining, sorted.
func (img *Image) DrainingBrokers() []int32 {
	out := slices.Collect(maps.Keys(img.draining))
	slices.Sort(out)
	return out
}

// Drained reports whether node is draining and no partition names it as
// a replica any more.
func (img *Image) Drained(node int32) bool {
	if !img.draining[node] {
		return false
	}
	for _, t := range img.topics {
		for _, p := range t.Placement {
			if slices.Contains(p.Replicas, node) {
				return false
			}
		}
	}
	return true
}
