package rocketmq

import (
	"testing"

	"github.com/ferry-mq/ferry/internal/meta"
)

// TestMessageIDRoundTrip: an id decodes to the store address and offset it
// was made from, and its commit-log offset leads back to the partition.
func TestMessageIDRoundTrip(t *testing.T) {
	topic := &meta.Topic{Name: "orders", Partitions: 8}
	for p := int32(0); p < topic.Partitions; p++ {
		id := MessageID("10.1.2.3:9876", "orders", p, 123456789)
		if len(id) != 32 {
			t.Fatalf("id %q is not 32 characters", id)
		}
		d, err := DecodeMessageID(id)
		if err != nil {
			t.Fatal(err)
		}
		if d.StoreAddr != "10.1.2.3:9876" || d.Offset != 123456789 || !d.Matches("orders", p) {
			t.Fatalf("partition %d: decoded %+v", p, d)
		}
		clo := CommitLogOffset("orders", p, 123456789)
		if clo < 0 {
			t.Fatalf("commit-log offset %d is negative", clo)
		}
		gotP, gotOff, ok := PartitionOf(topic, clo)
		if !ok || gotOff != 123456789 || partitionHash("orders", gotP) != partitionHash("orders", p) {
			t.Fatalf("PartitionOf(%d) = %d, %d, %v; want partition %d", clo, gotP, gotOff, ok, p)
		}
	}
	if _, err := DecodeMessageID("xyz"); err == nil {
		t.Fatal("a malformed id decoded")
	}
}
