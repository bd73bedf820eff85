package kafka

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
	"github.com/ferry-mq/ferry/internal/broker"
)

// Produce: v3-9 (record batch v2 only; v9 is flexible).
//
// Each partition's records must be exactly one v2 batch with a valid CRC,
// within max.message.bytes. Appends run on the connection's read goroutine
// so pipelined requests land in order; the wait for durability (fsync under
// flush.policy=always, whatever acks says, since an ack must never outrun
// the disk) runs on the write goroutine. acks=0 gets no response.
// Produce to internal topics (__consumer_offsets, __transaction_state) is
// refused, and so are control batches (only the transaction coordinator
// writes markers). With a transactional id every batch must be
// transactional, and its producer must have added the partition to its
// open transaction (else INVALID_TXN_STATE; a fenced epoch gets
// INVALID_PRODUCER_EPOCH); without one, no batch may be. The partition's
// leader checks that with the transaction coordinator, wherever it runs,
// before the transaction's first batch here (KIP-890 verification,
// broker.AppendVerified); a coordinator it cannot ask gives
// NOT_ENOUGH_REPLICAS, which producers retry. The request's
// bytes go back to the request budget once its batches are appended.
// On a topic with message.scheduling.enable=true the batch's records are
// decoded for the scheduling headers (see broker.AppendScheduling); the
// scheduled ones are acknowledged once __scheduled holds them. A Produce
// from a peer broker (its client id, and CLUSTER_ACTION when ACLs are on)
// is a scheduled delivery from the scheduler on another node: its records
// are appended as they are, their scheduling headers already served.

func init() { register(0, 3, 9, handleProduce) }

type producedPartition struct {
	part     *broker.Partition
	resp     *kmsg.ProduceResponseTopicPartition
	syncUpTo int64
}

func handleProduce(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	b := c.s.broker
	var toSync []producedPartition
	delivery := fromPeerBroker(c)

	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		topicErr := checkProduceTopic(c, b, req, rt.Topic)
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			var part *broker.Partition
			var res broker.AppendResult
			var sched broker.ScheduledAppend
			err := topicErr
			if err == nil {
				part, res, sched, err = producePartition(b, req, rt.Topic, rp, delivery)
			}
			if err != nil {
				sp.ErrorCode = broker.ErrorCode(err)
				msg := broker.ErrorMessage(err)
				sp.ErrorMessage = &msg
				if sp.ErrorCode == kerr.CorruptMessage.Code || sp.ErrorCode == kerr.InvalidRecord.Code {
					c.log.Warn("refused produce", "topic", rt.Topic, "partition", rp.Partition, "client", c.clientID, "err", err)
				}
				continue
			}
			sp.BaseOffset = res.BaseOffset
			sp.LogAppendTime = -1
			sp.LogStartOffset = part.Log().StartOffset()
			toSync = append(toSync, producedPartition{part: part, resp: sp, syncUpTo: res.LastOffset + 1})
			if sched.Part != nil {
				// Scheduled records: acknowledged once __scheduled holds them
				// as durably as the partition would.
				toSync = append(toSync, producedPartition{part: sched.Part, resp: sp, syncUpTo: sched.UpTo})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}

	// The batches are in the log: the request's bytes are done with, so
	// the reply waiting for its fsync (behind up to maxInFlight others)
	// holds neither them nor their share of the request budget.
	acks := req.Acks
	timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
	c.releaseRequestBytes()
	return func() reply {
		syncAll(c, toSync)
		if acks == -1 {
			waitReplicated(c, toSync, timeout)
		}
		if acks == 0 {
			return nil
		}
		return msgReply{resp}
	}
}

// syncAll waits until every appended partition is durable. Partitions are
// separate files, so their fsyncs run in parallel: a request spread over
// hundreds of partitions costs about one fsync of latency, not hundreds.
func syncAll(c *conn, parts []producedPartition) {
	var wg sync.WaitGroup
	waiting := false
	for i := range parts {
		p := &parts[i]
		if p.part.Log().HighWatermark() >= p.syncUpTo {
			continue // already durable (or flush.policy is not always)
		}
		if !waiting {
			waiting = true
			c.s.instruments().produceWaiting.Add(1)
			defer c.s.instruments().produceWaiting.Add(-1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.part.Sync(p.syncUpTo); err != nil {
				p.resp.ErrorCode = broker.ErrorCode(err)
				c.log.Error("sync failed; producer gets an error", "topic", p.part.Topic, "partition", p.part.Index, "err", err)
			}
		}()
	}
	wg.Wait()
}

// waitReplicated waits until the ISR holds every appended batch (acks=all
// on a replicated partition) or timeout passes.
func waitReplicated(c *conn, parts []producedPartition, timeout time.Duration) {
	var wg sync.WaitGroup
	waiting := false
	for i := range parts {
		p := &parts[i]
		if p.resp.ErrorCode != 0 || !p.part.Replicated() {
			continue
		}
		if !waiting {
			waiting = true // in Kafka's produce purgatory, as while waiting for an fsync
			c.s.instruments().produceWaiting.Add(1)
			defer c.s.instruments().produceWaiting.Add(-1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.part.WaitReplicated(p.syncUpTo, timeout); err != nil {
				p.resp.ErrorCode = broker.ErrorCode(err)
				msg := broker.ErrorMessage(err)
				p.resp.ErrorMessage = &msg
				c.log.Debug("acks=all produce not replicated", "topic", p.part.Topic, "partition", p.part.Index, "err", err)
			}
		}()
	}
	wg.Wait()
}

// checkProduceTopic applies the checks that hold for a whole topic of a
// produce request, once per topic rather than once per partition.
func checkProduceTopic(c *conn, b *broker.Broker, req *kmsg.ProduceRequest, topic string) error {
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return fmt.Errorf("%w: acks must be -1, 0 or 1, got %d", kerr.InvalidRequiredAcks, req.Acks)
	}
	if err := broker.ValidateTopicName(topic); err != nil {
		return err
	}
	if topic == broker.ScheduledTopic && fromPeerBroker(c) {
		// Scheduled records forwarded by the broker that received them.
		_, err := b.EnsureTopic(topic)
		return err
	}
	if broker.IsInternalTopic(topic) {
		return fmt.Errorf("%w: %s is internal; only the broker writes to it", kerr.InvalidTopicException, topic)
	}
	_, err := b.EnsureTopic(topic)
	return err
}

// fromPeerBroker reports whether the request comes from another broker
// of the cluster (see broker.PeerClientIDPrefix).
func fromPeerBroker(c *conn) bool {
	return strings.HasPrefix(c.clientID, broker.PeerClientIDPrefix) && c.allowCluster(acl.ClusterAction)
}

// producePartition appends one partition's batch; delivery (a scheduled
// delivery from a peer broker) skips the scheduling headers.
func producePartition(b *broker.Broker, req *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition, delivery bool) (*broker.Partition, broker.AppendResult, broker.ScheduledAppend, error) {
	var none broker.AppendResult
	var noSched broker.ScheduledAppend
	part, err := b.Partition(topic, rp.Partition)
	if err != nil {
		return nil, none, noSched, err
	}
	if err := checkSingleBatch(rp.Records, req.TransactionID != nil); err != nil {
		return nil, none, noSched, err
	}
	if req.Acks == -1 {
		if err := part.CheckMinISR(); err != nil {
			return nil, none, noSched, err
		}
	}
	if req.TransactionID != nil {
		if part.SchedulingEnabled() {
			if err := broker.RefuseScheduledInTransaction(rp.Records); err != nil {
				return nil, none, noSched, err
			}
		}
		pid := int64(binary.BigEndian.Uint64(rp.Records[43:51]))
		epoch := int16(binary.BigEndian.Uint16(rp.Records[51:53]))
		res, err := b.AppendVerified(part, *req.TransactionID, pid, epoch, rp.Records)
		return part, res, noSched, err
	}
	if part.SchedulingEnabled() && !delivery {
		res, sched, err := b.AppendScheduling(part, rp.Records)
		return part, res, sched, err
	}
	res, err := part.Append(rp.Records)
	return part, res, noSched, err
}

// checkSingleBatch insists on exactly one record batch, as Kafka does for
// magic v2, before the log parses it, and on the transactional bit
// matching whether the request has a transactional id.
func checkSingleBatch(records []byte, transactional bool) error {
	if len(records) < 17 {
		return fmt.Errorf("%w: %d bytes of records is shorter than a batch header", kerr.CorruptMessage, len(records))
	}
	if magic := records[16]; magic != 2 {
		return fmt.Errorf("%w: record batch magic %d; only v2 batches (Kafka 0.11+ clients) are accepted", kerr.UnsupportedForMessageFormat, magic)
	}
	length := int64(int32(binary.BigEndian.Uint32(records[8:12])))
	if length+12 != int64(len(records)) {
		return fmt.Errorf("%w: batch length field says %d bytes but %d follow (one batch per partition is allowed)", kerr.CorruptMessage, length, len(records)-12)
	}
	if len(records) < 61 {
		return fmt.Errorf("%w: %d bytes of records is shorter than a batch header", kerr.CorruptMessage, len(records))
	}
	// Attributes bit 4 marks a transactional batch; it must match the
	// request. (Control batches, bit 5, are refused by the partition.)
	attrs := binary.BigEndian.Uint16(records[21:23])
	if attrs&0x10 != 0 && !transactional {
		return fmt.Errorf("%w: transactional batch without a transactional id", kerr.InvalidRecord)
	}
	if attrs&0x10 == 0 && transactional {
		return fmt.Errorf("%w: a request with a transactional id must hold transactional batches", kerr.InvalidRecord)
	}
	return nil
}
