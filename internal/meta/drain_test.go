package meta

import (
	"slices"
	"testing"
)

func TestDrainMarkSurvivesRegistrationAndSnapshot(t *testing.T) {
	img, err := NewImage(1).Apply([]Record{
		{Broker: &BrokerRecord{NodeID: 1, Addr: "h:1", Incarnation: "a"}},
		{Broker: &BrokerRecord{NodeID: 2, Addr: "h:2", Incarnation: "b"}},
		{Topic: &TopicRecord{Name: "t", Partitions: 1, Placement: []Placement{{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}}}}},
		{Drain: &DrainRecord{NodeID: 2, Draining: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !img.Draining(2) || img.Draining(1) || img.Drained(2) {
		t.Fatalf("draining 2: %v, 1: %v, drained 2: %v", img.Draining(2), img.Draining(1), img.Drained(2))
	}
	// The controller rewrites the broker's registration (fenced, then a
	// new incarnation): the mark stays.
	img, err = img.Apply([]Record{
		{Broker: &BrokerRecord{NodeID: 2, Addr: "h:2", Incarnation: "b", Fenced: true}},
		{Broker: &BrokerRecord{NodeID: 2, Addr: "h:2", Incarnation: "c"}},
	})
	if err != nil || !img.Draining(2) {
		t.Fatalf("after re-registration: draining %v, err %v", img.Draining(2), err)
	}
	snap, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(snap, 0)
	if err != nil || !slices.Equal(back.DrainingBrokers(), []int32{2}) {
		t.Fatalf("snapshot: draining %v, err %v", back.DrainingBrokers(), err)
	}
	// Its last replica moves away: drained.
	img, err = img.Apply([]Record{{Placement: &PlacementRecord{Topic: "t", Partition: 0,
		Placement: Placement{Replicas: []int32{1}, Leader: 1, ISR: []int32{1}, PartitionEpoch: 1}}}})
	if err != nil || !img.Drained(2) {
		t.Fatalf("drained: %v, err %v", img.Drained(2), err)
	}
	img, err = img.Apply([]Record{{Drain: &DrainRecord{NodeID: 2}}})
	if err != nil || img.Draining(2) || img.Drained(2) || len(img.DrainingBrokers()) != 0 {
		t.Fatalf("cleared: draining %v, err %v", img.DrainingBrokers(), err)
	}
}

func TestDrainOfAnUnregisteredBrokerIsRefused(t *testing.T) {
	if _, err := NewImage(1).Apply([]Record{{Drain: &DrainRecord{NodeID: 7, Draining: true}}}); err == nil {
		t.Fatal("drained broker 7, which never registered")
	}
}
