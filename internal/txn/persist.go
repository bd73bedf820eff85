package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// pendingOffsetsKeyVersion marks the record of offsets committed inside a
// transaction that Ferry kept here before they moved to the group
// coordinator; Load still reads it (see doc.go). Kafka's TxnMetadataKey is
// version 0.
const (
	pendingOffsetsKeyVersion = 100
	// pendingOffsetsVersion is the TxnOffsetCommitRequest version the
	// record's value is encoded with.
	pendingOffsetsVersion = 3
)

// kv is one record of the coordinator's topic; a nil Value is a tombstone.
type kv = log.KeyValue

func txnKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = id
	return k.AppendTo(nil)
}

func stateRecord(t *txn) kv {
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID = t.producerID
	v.ProducerEpoch = t.epoch
	v.TimeoutMillis = int32(t.timeout / time.Millisecond)
	v.State = t.state
	v.LastUpdateTimestamp = t.updated.UnixMilli()
	v.StartTimestamp = -1
	if t.bumpedEnd {
		// KIP-890's fields are tagged: version 1 carries them.
		v.Version = 1
		v.PreviousProducerID = t.prevProducerID
		v.ClientTransactionVersion = 2
	}
	if t.state == stateOngoing || t.state == statePrepareCommit || t.state == statePrepareAbort {
		v.StartTimestamp = t.started.UnixMilli()
	}
	byTopic := map[string]int{}
	for _, p := range t.sortedPartitions() {
		i, ok := byTopic[p.topic]
		if !ok {
			i = len(v.Topics)
			byTopic[p.topic] = i
			vt := kmsg.NewTxnMetadataValueTopic()
			vt.Topic = p.topic
			v.Topics = append(v.Topics, vt)
		}
		v.Topics[i].Partitions = append(v.Topics[i].Partitions, p.partition)
	}
	return kv{Key: txnKey(t.id), Value: v.AppendTo(nil)}
}

// encodeBatch builds the batch the log assigns a base offset to.
func encodeBatch(recs []kv, now time.Time) []byte { return log.NewBatch(recs, now) }

// appendLocked writes recs as one batch and returns the log offset after
// it; the caller syncs.
// REQUIRES: c.mu held.
func (c *Coordinator) appendLocked(recs []kv) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	return c.log.Append(encodeBatch(recs, c.now()))
}

const loadBatchBytes = 1 << 20

// Load replays the transaction log into memory; call it once, before
// serving, then Recover.
func (c *Coordinator) Load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	offset, records, err := log.Replay(c.log.Read, loadBatchBytes, func(h log.BatchHeader, key, value []byte) error {
		if h.IsControl() {
			return nil // never written here
		}
		return c.replay(key, value)
	}, func(d log.Damage) {
		// A transaction whose records were there keeps its state from
		// the records before; Recover then completes or times it out.
		c.opts.Logger.Error("skipping damaged records of __transaction_state",
			"partition", c.opts.LogName, "from", d.From, "to", d.To, "err", d.Err)
	})
	if err != nil {
		return fmt.Errorf("txn: load __transaction_state at %d: %w", offset, err)
	}
	c.opts.Logger.Info("transactions loaded", "transactional_ids", len(c.txns), "records", records)
	return nil
}

// Recover completes the transactions Load found in a Prepare state. Call it
// once the data partitions are open.
func (c *Coordinator) Recover() {
	c.mu.Lock()
	todo := c.retryLocked()
	c.mu.Unlock()
	for _, t := range todo {
		c.opts.Logger.Info("completing transaction after restart", "transactional_id", t.id, "state", StateName(t.state))
		c.complete(t)
	}
}

// replay applies one record of __transaction_state.
// REQUIRES: c.mu held.
func (c *Coordinator) replay(key, value []byte) error {
	if len(key) < 2 {
		return errors.New("record key too short")
	}
	switch version := int16(binary.BigEndian.Uint16(key)); version {
	case 0:
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return err
		}
		if value == nil {
			delete(c.txns, k.TransactionalID)
			return nil
		}
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(value); err != nil {
			return err
		}
		t := c.txns[k.TransactionalID]
		if t == nil {
			t = &txn{id: k.TransactionalID}
			c.txns[k.TransactionalID] = t
		}
		t.producerID, t.epoch, t.state = v.ProducerID, v.ProducerEpoch, v.State
		t.bumpedEnd = v.Version >= 1 && v.ClientTransactionVersion >= 2
		t.prevProducerID = v.PreviousProducerID
		t.timeout = time.Duration(v.TimeoutMillis) * time.Millisecond
		t.updated = time.UnixMilli(v.LastUpdateTimestamp)
		if v.StartTimestamp >= 0 {
			t.started = time.UnixMilli(v.StartTimestamp)
		}
		t.partitions = map[tp]struct{}{}
		for _, vt := range v.Topics {
			for _, p := range vt.Partitions {
				t.partitions[tp{vt.Topic, p}] = struct{}{}
			}
		}
		if idle(t.state) {
			t.legacyPending = nil
		}
		return nil
	case pendingOffsetsKeyVersion:
		r := kbin.Reader{Src: key[2:]}
		id := r.String()
		if err := r.Complete(); err != nil {
			return err
		}
		t := c.txns[id]
		if t == nil || len(value) < 2 {
			return nil // forgotten since
		}
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = pendingOffsetsVersion
		if err := req.ReadFrom(value[2:]); err != nil {
			return err
		}
		t.legacyPending = append(t.legacyPending, req)
		return nil
	default:
		return fmt.Errorf("unknown record key version %d", version)
	}
}
