package schedule

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
)

// Cancel names the messages a cancel drops: those for Topic with Key.
type Cancel struct {
	Topic string
	Key   []byte
}

// EncodeBatch encodes messages and cancels as one batch for __scheduled
// (format in doc.go), messages first. A zero DeliverAt becomes now. The
// Kafka produce path calls it to store the scheduled records of a batch
// atomically with its other records; Schedule and Cancel call it too.
// Invalid input is an error wrapping kerr.InvalidRecord.
func EncodeBatch(msgs []Message, cancels []Cancel, now time.Time) ([]byte, error) {
	recs := make([]log.KeyValue, 0, len(msgs)+len(cancels))
	for i := range msgs {
		m := &msgs[i]
		if m.Topic == "" || m.Partition < 0 {
			return nil, fmt.Errorf("%w: scheduled message needs a topic and a partition (got %q, %d)", kerr.InvalidRecord, m.Topic, m.Partition)
		}
		at := m.DeliverAt
		if at.IsZero() {
			at = now
		}
		recs = append(recs, log.KeyValue{Key: messageKey(at.UnixMilli(), rand.Uint64()), Value: encodeMessage(m)})
	}
	for _, c := range cancels {
		if c.Topic == "" || c.Key == nil {
			return nil, fmt.Errorf("%w: a cancel needs a topic and a record key", kerr.InvalidRecord)
		}
		recs = append(recs, log.KeyValue{Key: cancelKey(c.Topic, c.Key), Value: []byte{formatVersion}})
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: nothing to schedule", kerr.InvalidRecord)
	}
	return log.NewBatch(recs, now), nil
}
