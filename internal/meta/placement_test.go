package meta

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A metadata.log written before placement existed: its TopicRecord JSON has
// no placement. Replayed by node 7 it places every partition on node 7, so
// an old data dir keeps working as a cluster of one.
func TestOldTopicRecordGetsDefaultPlacement(t *testing.T) {
	dir := t.TempDir()
	payload := []byte(`{"topic":{"name":"old","id":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"partitions":2}}`)
	var frame []byte
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(payload)))
	frame = binary.BigEndian.AppendUint32(frame, crc32.Checksum(payload, castagnoli))
	frame = append(frame, payload...)
	if err := os.WriteFile(filepath.Join(dir, fileName), frame, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenAs(dir, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	top, ok := s.Image().Topic("old")
	if !ok || len(top.Placement) != 2 {
		t.Fatalf("topic = %+v", top)
	}
	for i := range int32(2) {
		if !reflect.DeepEqual(top.Placement[i], LocalPlacement(7)) || top.Leader(i) != 7 {
			t.Fatalf("partition %d placement = %+v", i, top.Placement[i])
		}
	}
}

func TestPlacementAndBrokerRecords(t *testing.T) {
	img := NewImage(0)
	two := []Placement{LocalPlacement(1), LocalPlacement(2)}
	img, err := img.Apply([]Record{
		{Broker: &BrokerRecord{NodeID: 2, Addr: "h:2"}},
		{Broker: &BrokerRecord{NodeID: 1, Addr: "h:1"}},
		{Topic: &TopicRecord{Name: "t", Partitions: 2, Placement: two}},
		{Partitions: &PartitionsRecord{Topic: "t", Count: 3, Placement: []Placement{LocalPlacement(3)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	top, _ := img.Topic("t")
	if got := []int32{top.Leader(0), top.Leader(1), top.Leader(2), top.Leader(3)}; !reflect.DeepEqual(got, []int32{1, 2, 3, -1}) {
		t.Fatalf("leaders = %v", got)
	}
	if bs := img.Brokers(); len(bs) != 2 || bs[0].NodeID != 1 || bs[1].Addr != "h:2" {
		t.Fatalf("brokers = %+v", bs)
	}
	// A placement record must advance the partition epoch; a failing
	// record leaves the image untouched (Apply is all or nothing).
	moved := Placement{Replicas: []int32{2}, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 1}
	if _, err := img.Apply([]Record{
		{Placement: &PlacementRecord{Topic: "t", Partition: 0, Placement: moved}},
		{Placement: &PlacementRecord{Topic: "t", Partition: 0, Placement: moved}},
	}); err == nil {
		t.Fatal("placement that does not advance its epoch applied")
	}
	if top, _ := img.Topic("t"); top.Leader(0) != 1 {
		t.Fatal("failed Apply changed the image")
	}
	next, err := img.Apply([]Record{{Placement: &PlacementRecord{Topic: "t", Partition: 0, Placement: moved}}})
	if err != nil {
		t.Fatal(err)
	}
	if top, _ := next.Topic("t"); top.Leader(0) != 2 || top.Placement[0].LeaderEpoch != 1 {
		t.Fatalf("placement not applied: %+v", top.Placement[0])
	}
	if _, err := img.Apply([]Record{{Topic: &TopicRecord{Name: "u", Partitions: 2, Placement: two[:1]}}}); err == nil {
		t.Fatal("placement of the wrong length applied")
	}
}

func TestImageSnapshotRoundTrip(t *testing.T) {
	img, err := NewImage(0).Apply([]Record{
		{Cluster: &ClusterRecord{ClusterID: "c"}},
		{Broker: &BrokerRecord{NodeID: 1, Addr: "h:1"}},
		{Topic: &TopicRecord{Name: "t", ID: [16]byte{9}, Partitions: 1, Configs: map[string]string{"k": "v"}, Placement: []Placement{LocalPlacement(1)}}},
		{ProducerID: &ProducerIDBlockRecord{Next: 42}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := EncodeImage(back)
	if string(again) != string(b) {
		t.Fatalf("round trip differs:\n%s\n%s", b, again)
	}
	if _, err := DecodeImage([]byte(`{"topics":[{"name":"x","partitions":2,"placement":[]}]}`), 0); err == nil {
		t.Fatal("snapshot with missing placements decoded")
	}
}

func TestFileStoreChangedWakesSubscribers(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch := s.Changed()
	select {
	case <-ch:
		t.Fatal("closed before any change")
	default:
	}
	if _, err := s.Update(createTopic("a", 1)); err != nil {
		t.Fatal(err)
	}
	<-ch // a hang here fails the test by its timeout
}

// A fenced broker gains no role: it cannot become leader nor join an ISR;
// already in the ISR (the last member of an offline partition) it stays.
func TestPlacementRefusesRolesForFencedBrokers(t *testing.T) {
	img, err := NewImage(1).Apply([]Record{
		{Broker: &BrokerRecord{NodeID: 1, Addr: "h:1"}},
		{Broker: &BrokerRecord{NodeID: 2, Addr: "h:2", Fenced: true}},
		{Topic: &TopicRecord{Name: "t", Partitions: 1, Placement: []Placement{{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	place := func(p Placement) error {
		_, err := img.Apply([]Record{{Placement: &PlacementRecord{Topic: "t", Placement: p}}})
		return err
	}
	if err := place(Placement{Replicas: []int32{1, 2}, Leader: 1, ISR: []int32{1, 2}, PartitionEpoch: 1}); err == nil {
		t.Fatal("a fenced broker joined the ISR")
	}
	if err := place(Placement{Replicas: []int32{1, 2}, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, PartitionEpoch: 1}); err == nil {
		t.Fatal("a fenced broker became leader")
	}
	if err := place(Placement{Replicas: []int32{1, 2}, Leader: -1, LeaderEpoch: 1, ISR: []int32{1}, PartitionEpoch: 1}); err != nil {
		t.Fatalf("offline, the ISR keeping its member: %v", err)
	}
	// Unregistered brokers (records from before registration) are not
	// checked.
	if err := place(Placement{Replicas: []int32{1, 3}, Leader: 1, ISR: []int32{1, 3}, PartitionEpoch: 1}); err != nil {
		t.Fatalf("unregistered broker 3 in the ISR: %v", err)
	}
}
