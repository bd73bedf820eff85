package meta

import (
	"fmt"
	"maps"
	"sort"
)

// Image is the metadata at one point of the log. It is never modified
// after it is published; apply returns a new one.
type Image struct {
	ClusterID string
	// NextProducerID is the first producer id not yet reserved.
	NextProducerID int64
	topics         map[string]*Topic
}

// Topic is one topic as the metadata log describes it.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions int32
	Configs    map[string]string
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
		next.ClusterID = r.Cluster.ClusterID
	case r.Topic != nil:
		if _, ok := img.topics[r.Topic.Name]; ok {
			return nil, fmt.Errorf("topic %q already exists", r.Topic.Name)
		}
		copyTopics()
		next.topics[r.Topic.Name] = &Topic{Name: r.Topic.Name, ID: r.Topic.ID, Partitions: r.Topic.Partitions, Configs: maps.Clone(r.Topic.Configs)}
	case r.Partitions != nil:
		t, ok := img.topics[r.Partitions.Topic]
		if !ok || r.Partitions.Count <= t.Partitions {
			return nil, fmt.Errorf("cannot raise partitions of %q to %d", r.Partitions.Topic, r.Partitions.Count)
		}
		copyTopics()
		nt := *t
		nt.Partitions = r.Partitions.Count
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
	}
	return &next, nil
}
