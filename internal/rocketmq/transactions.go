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
// On a cluster the store and its checker run on the node leading
// __rmq_half-0 only, and follow that leadership: the node that becomes its
// leader (or leads it under a new epoch) loads the pending half messages
// from the log and checks them back; the node that loses it stops its
// checker and drops its in-memory state. Half messages and END_TRANSACTION
// sent to a node that does not lead it (or in between) are refused with
// SERVICE_NOT_AVAILABLE, and the client retries another broker.

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

// halfHost is the half-message store of this node while it leads
// __rmq_half-0. Owned by the goroutine startTransactions starts.
type halfHost struct {
	part  *broker.Partition
	epoch int32
	store *halftxn.Store
}

// startTransactions runs the half-message store and its checker on this
// node while it leads __rmq_half-0, creating the topic first if needed. It
// follows that leadership as the broker's scheduler follows __scheduled-0
// (internal/broker/schedule.go): the broker signals every leadership change
// (Broker.WatchLeadership), and a ticker retries what failed (the topic's
// creation, which a cluster applies a moment later, or a load).
func (s *Server) startTransactions(cfg config.RocketMQConfig) {
	kick := make(chan struct{}, 1)
	s.broker.WatchLeadership(kick)
	h := &halfHost{}
	s.reloadTransactions(cfg, h) // a single node serves them from the start
	s.txnWG.Add(1)
	go func() {
		defer s.txnWG.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				s.closeTransactions(h)
				return
			case <-kick:
			case <-t.C:
			}
			s.reloadTransactions(cfg, h)
		}
	}()
}

// reloadTransactions closes the store if this node stopped leading
// __rmq_half-0 (or leads it under a new epoch: another leader may have
// written in between) and opens one, loaded from the log, if it leads it.
func (s *Server) reloadTransactions(cfg config.RocketMQConfig, h *halfHost) {
	b := s.broker
	if _, ok := b.Image().Topic(HalfTopic); !ok {
		if b.Clustered() && !coordinatorTopicsExist(b) {
			return // too early: few brokers may be live, and the topic would get fewer replicas
		}
		if _, err := b.CreateTopic(HalfTopic, 1, halfTopicConfigs(b.Config().MaxRequestBytes), false); err != nil && broker.ErrorCode(err) != kerr.TopicAlreadyExists.Code {
			s.log.Debug("cannot create "+HalfTopic+" yet; retrying", "err", err)
			return
		}
	}
	var epoch int32
	leading := false
	part, err := b.Replica(HalfTopic, 0)
	if err == nil {
		epoch, leading = part.LeadingEpoch()
	}
	if h.store != nil && (!leading || part != h.part || epoch != h.epoch) {
		s.closeTransactions(h)
	}
	if !leading || h.store != nil {
		return
	}
	interval, maxChecks := cfg.TxnCheckInterval, cfg.TxnCheckMax
	if interval <= 0 {
		interval = config.DefaultTxnCheckInterval
	}
	if maxChecks <= 0 {
		maxChecks = config.DefaultTxnCheckMax
	}
	store := halftxn.New(partitionLog{part}, halftxn.Options{
		Logger:    s.log.With("component", "rocketmq-txn"),
		Interval:  interval,
		MaxChecks: maxChecks,
		Deliver:   s.deliverHalf,
		Check:     s.checkHalf,
	})
	if err := store.Load(); err != nil {
		s.log.Error("cannot load the half messages of "+HalfTopic+"; retrying", "err", err)
		return
	}
	store.Start()
	h.part, h.epoch, h.store = part, epoch, store
	s.halfStore.Store(store)
	s.log.Info("RocketMQ transactional messages served by this node", "partition", HalfTopic+"-0", "epoch", epoch)
}

// coordinatorTopicsExist tells whether a cluster created its coordinators'
// internal topics, which it does once enough brokers are live to give them
// their replication factor (the scheduler's __scheduled waits for them too).
func coordinatorTopicsExist(b *broker.Broker) bool {
	img := b.Image()
	_, offsets := img.Topic(broker.ConsumerOffsetsTopic)
	_, states := img.Topic(broker.TransactionStateTopic)
	return offsets && states
}

// closeTransactions stops serving half messages: requests get
// SERVICE_NOT_AVAILABLE from now on and the checker stops; the pending
// half messages stay in the log for the next leader.
func (s *Server) closeTransactions(h *halfHost) {
	if h.store == nil {
		return
	}
	s.halfStore.Store(nil)
	h.store.Close()
	s.log.Info("RocketMQ transactional messages no longer served by this node", "partition", HalfTopic+"-0", "epoch", h.epoch)
	h.part, h.store = nil, nil
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
