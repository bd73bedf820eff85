package meta

import "fmt"

// Record is one metadata change. Exactly one field is set.
type Record struct {
	Cluster    *ClusterRecord         `json:"cluster,omitempty"`
	Topic      *TopicRecord           `json:"topic,omitempty"`
	Partitions *PartitionsRecord      `json:"partitions,omitempty"`
	Config     *ConfigRecord          `json:"config,omitempty"`
	Remove     *RemoveTopicRecord     `json:"remove,omitempty"`
	ProducerID *ProducerIDBlockRecord `json:"producer_id,omitempty"`
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
}

// PartitionsRecord raises a topic's partition count.
type PartitionsRecord struct {
	Topic string `json:"topic"`
	Count int32  `json:"count"`
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
	for _, set := range []bool{r.Cluster != nil, r.Topic != nil, r.Partitions != nil, r.Config != nil, r.Remove != nil, r.ProducerID != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("metadata record has %d kinds set, want 1", n)
	}
	return nil
}
