package meta

import (
	"encoding/json"
	"fmt"
)

// imageJSON is an Image as a snapshot holds it. Snapshots are JSON: small
// (one entry per topic and broker) and readable when debugging.
type imageJSON struct {
	ClusterID      string       `json:"cluster_id"`
	NextProducerID int64        `json:"next_producer_id"`
	Topics         []topicJSON  `json:"topics"`
	Brokers        []BrokerInfo `json:"brokers"`
	ACLs           []ACL        `json:"acls,omitempty"`
	Quotas         []quotaJSON  `json:"quotas,omitempty"`
	// Scram holds the SCRAM credentials (scram.go): salted, never a password.
	Scram []ScramCredential `json:"scram,omitempty"`
	// Draining lists the brokers marked draining (drain.go).
	Draining []int32 `json:"draining,omitempty"`
}

type quotaJSON struct {
	Entity QuotaEntity        `json:"entity"`
	Values map[string]float64 `json:"values"`
}

type topicJSON struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	Placement  []Placement       `json:"placement"`
}

// EncodeImage returns img as a snapshot.
func EncodeImage(img *Image) ([]byte, error) {
	out := imageJSON{ClusterID: img.ClusterID, NextProducerID: img.NextProducerID, Brokers: img.Brokers(), Scram: img.ScramCredentials(), Draining: img.DrainingBrokers()}
	out.ACLs = img.ACLs().Bindings
	for e, v := range img.Quotas().Entities {
		out.Quotas = append(out.Quotas, quotaJSON{Entity: e, Values: v})
	}
	for _, t := range img.Topics() {
		out.Topics = append(out.Topics, topicJSON{Name: t.Name, ID: t.ID, Partitions: t.Partitions, Configs: t.Configs, Placement: t.Placement})
	}
	return json.Marshal(out)
}

// DecodeImage reads a snapshot EncodeImage wrote; node is as for NewImage.
func DecodeImage(b []byte, node int32) (*Image, error) {
	var in imageJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decode metadata snapshot: %w", err)
	}
	img := NewImage(node)
	img.ClusterID, img.NextProducerID = in.ClusterID, in.NextProducerID
	for _, t := range in.Topics {
		if int32(len(t.Placement)) != t.Partitions {
			return nil, fmt.Errorf("decode metadata snapshot: topic %q has %d partitions and %d placements", t.Name, t.Partitions, len(t.Placement))
		}
		img.topics[t.Name] = &Topic{Name: t.Name, ID: t.ID, Partitions: t.Partitions, Configs: t.Configs, Placement: t.Placement}
	}
	for _, b := range in.Brokers {
		img.brokers[b.NodeID] = b
	}
	for _, c := range in.Scram {
		if img.scram == nil {
			img.scram = map[scramKey]ScramCredential{}
		}
		img.scram[scramKey{c.User, c.Mechanism}] = c
	}
	if len(in.ACLs) > 0 {
		img.acls = &ACLSet{Bindings: in.ACLs}
	}
	if len(in.Quotas) > 0 {
		img.quotas = &QuotaSet{Entities: map[QuotaEntity]map[string]float64{}}
		for _, q := range in.Quotas {
			img.quotas.Entities[q.Entity] = q.Values
		}
	}
	for _, n := range in.Draining {
		if img.draining == nil {
			img.draining = map[int32]bool{}
		}
		img.draining[n] = true
	}
	return img, nil
}
