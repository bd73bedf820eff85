package meta

import (
	"fmt"
	"maps"
	"slices"
	"sort"
)

// Image is the metadata at one point of the log. It is never modified
// after it is published; apply returns a new one.
type Image struct {
	ClusterID string
	// NextProducerID is the first producer id not yet reserved.
	NextProducerID int64
	topics         map[string]*Topic
	brokers        map[int32]BrokerInfo
	scram          map[scramKey]ScramCredential // see scram.go
	acls           *ACLSet                      // nil: none
	quotas         *QuotaSet                    // nil: none
	draining       map[int32]bool               // see drain.go; never modified, replaced
	// defaultNode leads the partitions of records written before
	// placement existed: the node that replays the log, so an old data
	// dir keeps working as a cluster of one.
	defaultNode int32
}

// NewImage returns the empty image of a node; node leads the partitions of
// records that carry no placement.
func NewImage(node int32) *Image {
	return &Image{topics: map[string]*Topic{}, brokers: map[int32]BrokerInfo{}, defaultNode: node}
}

// BrokerInfo is one registered broker.
type BrokerInfo struct {
	NodeID      int32
	Addr        string
	Incarnation string
	Fenced      bool
}

// Topic is one topic as the metadata log describes it.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions int32
	Configs    map[string]string
	// Placement has one entry per partition, by index.
	Placement []Placement
}

// Leader returns the node leading partition index, or -1.
func (t *Topic) Leader(index int32) int32 {
	if index < 0 || int(index) >= len(t.Placement) {
		return -1
	}
	return t.Placement[index].Leader
}

// Topic returns the named topic.
func (img *Image) Topic(name string) (*Topic, bool) {
	t, ok := img.topics[name]
	return t, ok
}

// TopicByID returns the topic with the given id.
func (img *Image) TopicByID(id [16]byte) (*Topic, bool) {
	for _, t := range img.topics {
		if t.ID == id {
			return t, true
		}
	}
	return nil, false
}

// Topics returns all topics sorted by name.
func (img *Image) Topics() []*Topic {
	out := make([]*Topic, 0, len(img.topics))
	for _, t := range img.topics {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Brokers returns the registered brokers sorted by node id.
func (img *Image) Brokers() []BrokerInfo {
	out := make([]BrokerInfo, 0, len(img.brokers))
	for _, b := range img.brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// LiveBrokers returns the registered brokers that are not fenced, sorted
// by node id.
func (img *Image) LiveBrokers() []BrokerInfo {
	var out []BrokerInfo
	for _, b := range img.Brokers() {
		if !b.Fenced {
			out = append(out, b)
		}
	}
	return out
}

// Live reports whether node is registered and not fenced.
func (img *Image) Live(node int32) bool {
	b, ok := img.brokers[node]
	return ok && !b.Fenced
}

// Broker returns a registered broker.
func (img *Image) Broker(node int32) (BrokerInfo, bool) {
	b, ok := img.brokers[node]
	return b, ok
}

// Apply returns the image after every record of recs, or an error and no
// change at all if one does not apply: a Raft entry is applied whole or
// not at all, the same way on every node.
func (img *Image) Apply(recs []Record) (*Image, error) {
	next := img
	for _, r := range recs {
		var err error
		if next, err = next.apply(r); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// placements returns the placement of n partitions: given, or the default
// when none is given (records from before placement existed).
func (img *Image) placements(given []Placement, n int32) ([]Placement, error) {
	if len(given) == 0 {
		out := make([]Placement, n)
		for i := range out {
			out[i] = LocalPlacement(img.defaultNode)
		}
		return out, nil
	}
	if int32(len(given)) != n {
		return nil, fmt.Errorf("placement of %d partitions given for %d", len(given), n)
	}
	for i, p := range given {
		if len(p.Replicas) == 0 {
			return nil, fmt.Errorf("partition %d has no replicas", i)
		}
	}
	return given, nil
}

// apply returns the image after r, or an error if r does not fit img (a
// record that fails here is never written).
func (img *Image) apply(r Record) (*Image, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	next := *img
	next.topics = img.topics
	copyTopics := func() { next.topics = maps.Clone(img.topics) }
	switch {
	case r.Cluster != nil:
		// Set once: nodes of a new cluster race to name it, and the
		// first name committed wins on every node.
		if img.ClusterID != "" && img.ClusterID != r.Cluster.ClusterID {
			return nil, fmt.Errorf("cluster id is %s already", img.ClusterID)
		}
		next.ClusterID = r.Cluster.ClusterID
	case r.Topic != nil:
		if _, ok := img.topics[r.Topic.Name]; ok {
			return nil, fmt.Errorf("topic %q already exists", r.Topic.Name)
		}
		pl, err := img.placements(r.Topic.Placement, r.Topic.Partitions)
		if err != nil {
			return nil, fmt.Errorf("topic %q: %w", r.Topic.Name, err)
		}
		copyTopics()
		next.topics[r.Topic.Name] = &Topic{Name: r.Topic.Name, ID: r.Topic.ID, Partitions: r.Topic.Partitions, Configs: maps.Clone(r.Topic.Configs), Placement: pl}
	case r.Partitions != nil:
		t, ok := img.topics[r.Partitions.Topic]
		if !ok || r.Partitions.Count <= t.Partitions {
			return nil, fmt.Errorf("cannot raise partitions of %q to %d", r.Partitions.Topic, r.Partitions.Count)
		}
		pl, err := img.placements(r.Partitions.Placement, r.Partitions.Count-t.Partitions)
		if err != nil {
			return nil, fmt.Errorf("topic %q: %w", t.Name, err)
		}
		copyTopics()
		nt := *t
		nt.Partitions = r.Partitions.Count
		nt.Placement = append(append([]Placement(nil), t.Placement...), pl...)
		next.topics[t.Name] = &nt
	case r.Config != nil:
		t, ok := img.topics[r.Config.Topic]
		if !ok {
			return nil, fmt.Errorf("config for unknown topic %q", r.Config.Topic)
		}
		copyTopics()
		nt := *t
		nt.Configs = maps.Clone(t.Configs)
		if nt.Configs == nil {
			nt.Configs = map[string]string{}
		}
		if r.Config.Value == nil {
			delete(nt.Configs, r.Config.Key)
		} else {
			nt.Configs[r.Config.Key] = *r.Config.Value
		}
		next.topics[t.Name] = &nt
	case r.Remove != nil:
		if _, ok := img.topics[r.Remove.Name]; !ok {
			return nil, fmt.Errorf("remove of unknown topic %q", r.Remove.Name)
		}
		copyTopics()
		delete(next.topics, r.Remove.Name)
	case r.ProducerID != nil:
		if r.ProducerID.Next <= img.NextProducerID {
			return nil, fmt.Errorf("producer id block %d does not advance %d", r.ProducerID.Next, img.NextProducerID)
		}
		next.NextProducerID = r.ProducerID.Next
	case r.Broker != nil:
		if r.Broker.NodeID < 0 || r.Broker.Addr == "" {
			return nil, fmt.Errorf("broker registration %d %q is incomplete", r.Broker.NodeID, r.Broker.Addr)
		}
		next.brokers = maps.Clone(img.brokers)
		if next.brokers == nil {
			next.brokers = map[int32]BrokerInfo{}
		}
		next.brokers[r.Broker.NodeID] = BrokerInfo{NodeID: r.Broker.NodeID, Addr: r.Broker.Addr, Incarnation: r.Broker.Incarnation, Fenced: r.Broker.Fenced}
	case r.Placement != nil:
		pr := r.Placement
		t, ok := img.topics[pr.Topic]
		if !ok || pr.Partition < 0 || pr.Partition >= t.Partitions {
			return nil, fmt.Errorf("placement of unknown partition %s/%d", pr.Topic, pr.Partition)
		}
		old := t.Placement[pr.Partition]
		if len(pr.Placement.Replicas) == 0 || pr.Placement.LeaderEpoch < old.LeaderEpoch || pr.Placement.PartitionEpoch <= old.PartitionEpoch {
			return nil, fmt.Errorf("placement of %s/%d does not advance its epochs (leader %d, partition %d)", pr.Topic, pr.Partition, old.LeaderEpoch, old.PartitionEpoch)
		}
		if err := pr.Placement.check(); err != nil {
			return nil, fmt.Errorf("placement of %s/%d: %w", pr.Topic, pr.Partition, err)
		}
		if err := img.checkFencedIn(old, pr.Placement); err != nil {
			return nil, fmt.Errorf("placement of %s/%d: %w", pr.Topic, pr.Partition, err)
		}
		copyTopics()
		nt := *t
		nt.Placement = append([]Placement(nil), t.Placement...)
		nt.Placement[pr.Partition] = pr.Placement
		next.topics[t.Name] = &nt
	case r.Scram != nil:
		if err := img.applyScram(&next, r.Scram); err != nil {
			return nil, err
		}
	case r.ACL != nil:
		acls, err := img.applyACL(r.ACL)
		if err != nil {
			return nil, err
		}
		next.acls = acls
	case r.Quota != nil:
		quotas, err := img.applyQuota(r.Quota)
		if err != nil {
			return nil, err
		}
		next.quotas = quotas
	case r.Drain != nil:
		draining, err := img.applyDrain(r.Drain)
		if err != nil {
			return nil, err
		}
		next.draining = draining
	}
	return &next, nil
}

// checkFencedIn refuses a placement that makes a fenced broker the new
// leader or adds it to the ISR (as KIP-841 does): a broker the controller
// considers gone must not gain a role, whatever a partition leader saw of
// it. A fenced broker already in the ISR may stay (the last member of an
// offline partition's ISR does).
func (img *Image) checkFencedIn(old, next Placement) error {
	fenced := func(n int32) bool {
		b, ok := img.brokers[n]
		return ok && b.Fenced
	}
	if next.Leader != old.Leader && next.Leader >= 0 && fenced(next.Leader) {
		return fmt.Errorf("broker %d is fenced and cannot lead", next.Leader)
	}
	for _, r := range next.ISR {
		if fenced(r) && !slices.Contains(old.ISR, r) {
			return fmt.Errorf("broker %d is fenced and cannot join the ISR", r)
		}
	}
	return nil
}

// DefaultNode is the node that leads partitions of records without a
// placement.
func (img *Image) DefaultNode() int32 { return img.defaultNode }
