package meta

import (
	"fmt"
	"slices"
)

// Record is one metadata change. Exactly one field is set.
type Record struct {
	Cluster    *ClusterRecord         `json:"cluster,omitempty"`
	Topic      *TopicRecord           `json:"topic,omitempty"`
	Partitions *PartitionsRecord      `json:"partitions,omitempty"`
	Config     *ConfigRecord          `json:"config,omitempty"`
	Remove     *RemoveTopicRecord     `json:"remove,omitempty"`
	ProducerID *ProducerIDBlockRecord `json:"producer_id,omitempty"`
	Broker     *BrokerRecord          `json:"broker,omitempty"`
	Placement  *PlacementRecord       `json:"placement,omitempty"`
	Scram      *ScramRecord           `json:"scram,omitempty"`
	ACL        *ACLRecord             `json:"acl,omitempty"`
	Quota      *QuotaRecord           `json:"quota,omitempty"`
	Drain      *DrainRecord           `json:"drain,omitempty"`
}

// ClusterRecord is written once, when the data directory is formatted.
type ClusterRecord struct {
	ClusterID string `json:"cluster_id"`
}

// TopicRecord creates a topic.
type TopicRecord struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	// Placement has one entry per partition. Records written before
	// placement existed have none: each partition then gets the default,
	// led by the image's own node (see Image.defaultNode).
	Placement []Placement `json:"placement,omitempty"`
}

// PartitionsRecord raises a topic's partition count.
type PartitionsRecord struct {
	Topic string `json:"topic"`
	Count int32  `json:"count"`
	// Placement holds one entry per new partition, or none for the
	// default placement.
	Placement []Placement `json:"placement,omitempty"`
}

// ConfigRecord sets (Value non-nil) or removes (nil) one topic config.
type ConfigRecord struct {
	Topic string  `json:"topic"`
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

// RemoveTopicRecord deletes a topic.
type RemoveTopicRecord struct {
	Name string `json:"name"`
}

// ProducerIDBlockRecord reserves producer ids below Next, so ids handed
// out before a restart are never handed out again.
type ProducerIDBlockRecord struct {
	Next int64 `json:"next"`
}

func (r Record) validate() error {
	n := 0
	for _, set := range []bool{r.Cluster != nil, r.Topic != nil, r.Partitions != nil, r.Config != nil, r.Remove != nil, r.ProducerID != nil, r.Broker != nil, r.Placement != nil, r.Scram != nil, r.ACL != nil, r.Quota != nil, r.Drain != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("metadata record has %d kinds set, want 1", n)
	}
	return nil
}

// BrokerRecord registers a broker, or replaces the state of a registered
// one: in a cluster only the active controller writes it (the first
// heartbeat of a process registers it, a missed lease fences it, the next
// heartbeat unfences it).
type BrokerRecord struct {
	NodeID int32  `json:"node_id"`
	Addr   string `json:"addr"` // advertised Kafka host:port
	// Incarnation is a random id the broker process draws at start: a
	// heartbeat with another incarnation is another process (a restart,
	// or a second process with the same node id). Empty in records
	// written before heartbeats existed.
	Incarnation string `json:"incarnation,omitempty"`
	// Fenced brokers missed their lease: they lead nothing, are in no
	// ISR (unless they were the last member), and clients are not told
	// about them.
	Fenced bool `json:"fenced,omitempty"`
}

// Placement says where one partition lives: its replicas, which of them
// leads, and the epochs that order changes of either (as in Kafka's
// PartitionRecord).
type Placement struct {
	Replicas       []int32 `json:"replicas"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	ISR            []int32 `json:"isr"`
	PartitionEpoch int32   `json:"partition_epoch"`
	// Adding and Removing describe a reassignment in progress (KIP-455):
	// Replicas is then the target followed by the original replicas the
	// target drops; Adding are the target's new replicas, Removing the
	// original replicas it drops. Both are empty (and omitted) when no
	// move runs, so metadata written before reassignment loads unchanged.
	Adding   []int32 `json:"adding,omitempty"`
	Removing []int32 `json:"removing,omitempty"`
	// From is the replica list before the move, in its order, so that a
	// cancel restores the preferred leader (Replicas[0]) too; absent in
	// moves recorded before it, whose cancel keeps Replicas' order.
	From []int32 `json:"from,omitempty"`
}

// Reassigning reports whether a move of the partition is in progress.
func (p Placement) Reassigning() bool { return len(p.Adding) > 0 || len(p.Removing) > 0 }

// Target is the replica set the partition is moving to (Replicas without
// Removing, in Replicas order), or Replicas when no move runs.
func (p Placement) Target() []int32 {
	if len(p.Removing) == 0 {
		return slices.Clone(p.Replicas)
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.Removing, r) {
			out = append(out, r)
		}
	}
	return out
}

// Original is the replica set the partition is moving from (Replicas
// without Adding, in From's order when recorded), or Replicas when no move
// runs.
func (p Placement) Original() []int32 {
	if len(p.Adding) == 0 && len(p.From) == 0 {
		return slices.Clone(p.Replicas)
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.Adding, r) {
			out = append(out, r)
		}
	}
	if sameSet(out, p.From) {
		return slices.Clone(p.From)
	}
	return out
}

// sameSet reports whether a and b hold the same brokers (each once).
func sameSet(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !slices.Contains(b, r) {
			return false
		}
	}
	return true
}

// check refuses a placement whose move does not fit its replicas: every
// adding and removing replica must be a replica, none both, none twice.
func (p Placement) check() error {
	seen := map[int32]bool{}
	for _, r := range p.Replicas {
		if seen[r] {
			return fmt.Errorf("replica %d is named twice in %v", r, p.Replicas)
		}
		seen[r] = true
	}
	for _, r := range p.Adding {
		if !seen[r] || slices.Contains(p.Removing, r) {
			return fmt.Errorf("adding replica %d is not a replica, or is removed too (replicas %v, removing %v)", r, p.Replicas, p.Removing)
		}
	}
	for _, r := range p.Removing {
		if !seen[r] {
			return fmt.Errorf("removing replica %d is not a replica (replicas %v)", r, p.Replicas)
		}
	}
	if len(p.Removing) >= len(p.Replicas) {
		return fmt.Errorf("a move removes every replica of %v", p.Replicas)
	}
	return nil
}

// PlacementRecord replaces one partition's placement.
type PlacementRecord struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Placement Placement `json:"placement"`
}

// LocalPlacement is the placement of a partition on node alone: what a
// single node gives every partition.
func LocalPlacement(node int32) Placement {
	return Placement{Replicas: []int32{node}, Leader: node, ISR: []int32{node}}
}
