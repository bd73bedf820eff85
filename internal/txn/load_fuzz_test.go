package txn

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// FuzzLoad replays arbitrary records of __transaction_state: Load may
// refuse them with an error but must never panic, nor may Recover after a
// Load that succeeded.
func FuzzLoad(f *testing.F) {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = "tx"
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = 7, 1, 60000
	v.State = kmsg.TransactionStateOngoing
	v.Topics = []kmsg.TxnMetadataValueTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	f.Add(k.AppendTo(nil), v.AppendTo(nil))
	f.Add(k.AppendTo(nil), []byte(nil))
	f.Add(txnKey("tx"), v.AppendTo(nil)[:9])
	f.Add([]byte{0, 100, 0, 2, 'i', 'd'}, []byte{0, 0, 1})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		l := &memLog{}
		if _, err := l.Append(log.NewBatch([]log.KeyValue{{Key: key, Value: value}}, time.Unix(1_700_000_000, 0))); err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_700_000_100, 0)
		c := New(Config{MaxTimeout: time.Minute, IDExpiration: time.Hour}, l, Options{
			Now:           func() time.Time { return now },
			NewProducerID: func() (int64, error) { return 1000, nil },
			Partitions:    &fakeParts{},
			LegacyOffsets: &fakeOffsets{},
			OffsetsTopic:  "__consumer_offsets",
		})
		if err := c.Load(); err != nil {
			return
		}
		c.Recover()
	})
}
