package chaos

import (
	"fmt"
	"time"
)

// History is everything a chaos run recorded, the only input of Check.
type History struct {
	// Attempts are the values producers tried to write, acknowledged or not.
	Attempts []Value
	// Acks are the records the cluster acknowledged, with the partition
	// and offset it acknowledged them at.
	Acks []Ack
	// Reads are the records consumers saw, each consumer's in the order it
	// saw them.
	Reads []Read
	// Watermarks are high watermarks observed, each observer's in order.
	Watermarks []Watermark
	// Final is each partition's log read from the leader to its end after
	// the cluster healed.
	Final map[int32][]Entry
	// Replicas are each partition's log as every node holding it has it on
	// disk, read offline after the cluster stopped: partition -> node id ->
	// batches. Nil when the offline read was skipped.
	Replicas map[int32]map[int32][]Batch
}

// Value identifies a produced record: producer and sequence number, both
// carried in the record's value (see Encode).
type Value struct {
	Producer int
	Seq      int64
}

func (v Value) String() string { return fmt.Sprintf("p%d/s%d", v.Producer, v.Seq) }

// Encode is the record value for v.
func (v Value) Encode() []byte { return fmt.Appendf(nil, "chaos p=%d s=%d", v.Producer, v.Seq) }

// DecodeValue parses a value written by Encode.
func DecodeValue(b []byte) (Value, error) {
	var v Value
	if _, err := fmt.Sscanf(string(b), "chaos p=%d s=%d", &v.Producer, &v.Seq); err != nil {
		return Value{}, fmt.Errorf("not a chaos value %q: %v", b, err)
	}
	if string(v.Encode()) != string(b) {
		return Value{}, fmt.Errorf("not a chaos value %q", b)
	}
	return v, nil
}

// Ack is an acknowledged produce of Value at (Partition, Offset).
type Ack struct {
	Value     Value
	Partition int32
	Offset    int64
}

// Read is a record a consumer saw.
type Read struct {
	Consumer  int
	Partition int32
	Offset    int64
	Value     Value
}

// Watermark is a high watermark an observer saw for a partition. Epoch
// (the leader epoch that answered, -1 if unknown) and At only explain a
// violation.
type Watermark struct {
	Observer  string
	Partition int32
	HW        int64
	Epoch     int32
	At        time.Time
}

// Entry is a record of a final log. Raw is set instead of Value when the
// record's value is not a chaos value.
type Entry struct {
	Offset int64
	Value  Value
	Raw    string
}

// Batch is a record batch as stored in one replica's segment files.
type Batch struct {
	BaseOffset  int64
	LastOffset  int64
	LeaderEpoch int32
	CRC         uint32
	Records     []Entry
}
