package rocketmq

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/halftxn"
	"github.com/ferry-mq/ferry/internal/rocketmq/msgext"
)

// Transactional ("half") messages (issue 10, item 6). A send whose message
// has TRAN_MSG=true is diverted (37_end_transaction.go) into the half
// message store (internal/rocketmq/halftxn) on the internal topic
// __rmq_half instead of its topic; END_TRANSACTION commits it (appends it
// to its topic, with TRAN_MSG removed, as the send would have) or rolls it
// back. An unresolved one is checked back with a live producer of its
// group (PGROUP) every --rocketmq-txn-check-interval, at most
// --rocketmq-txn-check-max times, then rolled back and logged. The store
// replays __rmq_half at start, so pending half messages and their check
// counts survive restarts.
//
// The send answer names the half message: queueOffset (which the client
// sends back as tranStateTableOffset) is its offset in __rmq_half, and
// msgId is MessageID of that offset in __rmq_half partition 0 (so the
// commitLogOffset the client sends back carries it too).
//
// On a cluster the store runs on the node leading __rmq_half-0 only; half
// messages sent to another node are refused (SERVICE_NOT_AVAILABLE), and
// the client retries another broker.

// HalfTopic is the internal topic of pending half messages.
const HalfTopic = broker.RocketMQHalfTopic

// halfTopicConfigs: compacted, so that a resolved half message (tombstoned)
// leaves nothing behind and a restart replays only what is pending.
func halfTopicConfigs(maxRequestBytes int32) map[string]string {
	return map[string]string{
		"cleanup.policy":    "compact",
		"max.message.bytes": strconv.Itoa(int(maxRequestBytes)),
	}
}

// startTransactions opens the half-message store and starts its checker,
// creating __rmq_half first if needed. The store runs where partition 0 of
// __rmq_half is led; until this node can open it (a cluster applies a new
// topic a moment later), it retries in the background, and a node that
// another node's leadership keeps out logs so and serves no half messages.
func (s *Server) startTransactions(cfg config.RocketMQConfig) {
	if err := s.openTransactions(cfg); err == nil {
		return
	} else if !s.broker.Clustered() {
		s.log.Error("RocketMQ transactional messages are off on this node", "err", err)
		return
	}
	s.txnWG.Add(1)
	go func() {
		defer s.txnWG.Done()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			err := s.openTransactions(cfg)
			if err == nil {
				return
			}
			if t, ok := s.broker.Image().Topic(HalfTopic); ok && t.Leader(0) >= 0 && t.Leader(0) != s.broker.Config().NodeID {
				s.log.Info("RocketMQ transactional messages are served by the node leading "+HalfTopic, "node", t.Leader(0))
				return
			}
		}
	}()
}

func (s *Server) openTransactions(cfg config.RocketMQConfig) error {
	b := s.broker
	if _, ok := b.Image().Topic(HalfTopic); !ok {
		if _, err := b.CreateTopic(HalfTopic, 1, halfTopicConfigs(b.Config().MaxRequestBytes), false); err != nil && broker.ErrorCode(err) != kerr.TopicAlreadyExists.Code {
			return fmt.Errorf("create %s: %w", HalfTopic, err)
		}
	}
	p, err := b.Partition(HalfTopic, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", HalfTopic, err)
	}
	interval, maxChecks := cfg.TxnCheckInterval, cfg.TxnCheckMax
	if interval <= 0 {
		interval = config.DefaultTxnCheckInterval
	}
	if maxChecks <= 0 {
		maxChecks = config.DefaultTxnCheckMax
	}
	store := halftxn.New(partitionLog{p}, halftxn.Options{
		Logger:    s.log.With("component", "rocketmq-txn"),
		Interval:  interval,
		MaxChecks: maxChecks,
		Deliver:   s.deliverHalf,
		Check:     s.checkHalf,
	})
	if err := store.Load(); err != nil {
		return err
	}
	store.Start()
	s.halfStore.Store(store)
	return nil
}

// halfSenders remembers, per producer group, the last connection that
// sent a half message. A producer heartbeats only brokers it has routes
// for, every 30 seconds (rocketmq-client-go), so right after a restart a
// producer that is sending may not be in the client registry yet: its
// sending connection is live all the same, and a check-back may go there.
type halfSenders struct {
	mu      sync.Mutex
	byGroup map[string]*Conn
}

func (h *halfSenders) note(group string, c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byGroup == nil {
		h.byGroup = map[string]*Conn{}
	}
	h.byGroup[group] = c
}

// live returns the group's last sending connection if it is still open.
func (h *halfSenders) live(group string) *Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.byGroup[group]
	if c == nil {
		return nil
	}
	select {
	case <-c.Done():
		delete(h.byGroup, group)
		return nil
	default:
		return c
	}
}

// partitionLog is the halftxn.Log of a partition: a Sync waits for the
// flush policy and, on a replicated partition, for the ISR.
type partitionLog struct{ p *broker.Partition }

func (l partitionLog) Append(batch []byte) (int64, error) {
	if err := l.p.CheckMinISR(); err != nil {
		return 0, err
	}
	res, err := l.p.Append(batch)
	if err != nil {
		return 0, err
	}
	return res.LastOffset + 1, nil
}

func (l partitionLog) Sync(upTo int64) error {
	if err := l.p.Sync(upTo); err != nil {
		return err
	}
	return l.p.WaitReplicated(upTo, replicationTimeout)
}

func (l partitionLog) Read(offset int64, maxBytes int) ([]byte, error) {
	sl, err := l.p.Log().Read(offset, maxBytes, true)
	if err != nil {
		return nil, err
	}
	return sl.ReadAll()
}

// deliverHalf appends a committed half message to its topic, without its
// TRAN_MSG header, and waits until it is durable.
func (s *Server) deliverHalf(h halftxn.Half) error {
	var recs []log.Record
	_, err := log.EachStoredRecord(h.Batch, func(_ log.BatchHeader, r log.StoredRecord) error {
		rec := log.Record{Key: clone(r.Key), Value: clone(r.Value), Timestamp: r.Timestamp}
		if rec.Value == nil {
			rec.Value = []byte{}
		}
		r.EachHeader(func(k, v []byte) bool {
			if string(k) != PropTransaction {
				rec.Headers = append(rec.Headers, kmsg.Header{Key: string(k), Value: clone(v)})
			}
			return true
		})
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("half message %d holds no record", h.ID)
	}
	p, err := s.broker.Partition(h.Topic, h.Partition)
	if err != nil {
		return err
	}
	_, wait, err := s.Store(p, recs)
	if err != nil {
		return err
	}
	return wait()
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// checkHalf asks the most recently seen live producer of the half
// message's group for its state (CHECK_TRANSACTION_STATE, oneway); the
// producer answers with END_TRANSACTION.
func (s *Server) checkHalf(h halftxn.Half) error {
	conns := s.clients.ProducerConns(h.Group)
	if len(conns) == 0 {
		conn := s.halfSenders.live(h.Group)
		if conn == nil {
			return halftxn.ErrNoProducer
		}
		conns = []*Conn{conn}
	}
	t, ok := s.broker.Image().Topic(h.Topic)
	if !ok {
		return fmt.Errorf("topic %s no longer exists", h.Topic)
	}
	body, err := s.encodeHalf(h, s.QueueID(t, h.Partition))
	if err != nil {
		return err
	}
	uniq := halfUniqKey(h)
	req := &Command{Code: codeCheckTransactionState, Language: languageGo, Version: brokerVersion, Serialize: SerializeJSON}
	req.SetField("tranStateTableOffset", strconv.FormatInt(h.ID, 10))
	req.SetField("commitLogOffset", strconv.FormatInt(CommitLogOffset(HalfTopic, 0, h.ID), 10))
	req.SetField("msgId", uniq)
	req.SetField("transactionId", uniq)
	req.SetField("offsetMsgId", MessageID(s.advertised, HalfTopic, 0, h.ID))
	req.Body = body
	conns[0].Oneway(req)
	return nil
}

// halfUniqKey is the client's id of a half message (its transaction id).
func halfUniqKey(h halftxn.Half) string { return h.UniqKey }

// encodeHalf encodes a half message as the MessageExt a check-back
// carries: its real topic and queue, its properties (TRAN_MSG, PGROUP,
// UNIQ_KEY among them) and, as commitLogOffset, the half message's own.
func (s *Server) encodeHalf(h halftxn.Half, queueID int32) ([]byte, error) {
	q := &msgext.Queue{
		Topic:           RocketTopic(h.Topic),
		QueueID:         queueID,
		StoreHost:       storeAddrPort(s.advertised),
		CommitLogOffset: func(int64) int64 { return CommitLogOffset(HalfTopic, 0, h.ID) },
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	var body []byte
	_, err := log.EachStoredRecord(h.Batch, func(_ log.BatchHeader, r log.StoredRecord) error {
		r.Offset = h.ID
		body = msgext.Append(body, q, r)
		return nil
	})
	return body, err
}

// storeAddrPort parses a host:port for MessageExt (0.0.0.0:0 when it is not
// an IP address and port).
func storeAddrPort(addr string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return ap
}
