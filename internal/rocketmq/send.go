package rocketmq

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/meta"
)

// The send path shared by SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and
// SEND_BATCH_MESSAGE (320): decode the header and the message(s), resolve
// the topic (auto-creating it as Kafka produce does) and the queue's
// partition, give the send diverters their chance (delayed and half
// messages are stored elsewhere), then append one record batch on the
// read goroutine — so a connection's sends keep their order, as ordered
// (MessageQueueSelector) producers need — and answer off it once the
// batch is durable as the topic's flush.policy says and, on a replicated
// partition, in the ISR (Kafka's acks=all: a RocketMQ sync send is
// acknowledged only once it would survive). A message with WAIT=false
// asks for no such wait.

// replicationTimeout bounds the wait for the ISR; past it the send is
// answered FLUSH_SLAVE_TIMEOUT (stored here, not yet replicated).
const replicationTimeout = 10 * time.Second

// SendHeader is a send request's header, from either header form.
type SendHeader struct {
	ProducerGroup     string
	Topic             string // the RocketMQ name
	QueueID           int32
	SysFlag           int32
	BornTimestamp     int64
	Flag              int32
	Properties        string
	ReconsumeTimes    int32
	MaxReconsumeTimes int32
	Batch             bool
}

// SendRequest is a decoded send request: what send diverters see.
type SendRequest struct {
	Conn      *Conn
	Req       *Command
	Header    SendHeader
	Topic     *meta.Topic
	Partition int32
	Messages  []Message
}

// A SendDiverter may take a send request off the normal path: a delayed
// message goes to the scheduler, a half message to the transaction store.
// It returns handled=false to leave the request alone, or handled=true
// and the response it made (nil when it answered through Conn.Later).
// Diverters run in registration order on the read goroutine.
type SendDiverter func(sr *SendRequest) (resp *Command, handled bool)

var (
	diverterMu sync.Mutex
	diverters  []namedDiverter
)

type namedDiverter struct {
	name string
	fn   SendDiverter
}

// RegisterSendDiverter adds a diverter; call it from init.
func RegisterSendDiverter(name string, d SendDiverter) {
	diverterMu.Lock()
	defer diverterMu.Unlock()
	diverters = append(diverters, namedDiverter{name, d})
}

// errHeader marks a missing or unparsable header field.
var errHeader = errors.New("bad request header")

// headerFields reads a send header from req's fields, named by names
// (the long names of SEND_MESSAGE or the one-letter ones of V2).
func headerFields(req *Command, names sendFieldNames) (SendHeader, error) {
	var h SendHeader
	var errs []string
	str := func(name string, required bool) string {
		v, ok := req.ExtFields[name]
		if !ok && required {
			errs = append(errs, "missing "+name)
		}
		return v
	}
	num := func(name string, required bool, bits int) int64 {
		v := str(name, required)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a number", name, v))
		}
		return n
	}
	h.ProducerGroup = str(names.group, true)
	h.Topic = str(names.topic, true)
	h.QueueID = int32(num(names.queueID, true, 32))
	h.SysFlag = int32(num(names.sysFlag, true, 32))
	h.BornTimestamp = num(names.born, true, 64)
	h.Flag = int32(num(names.flag, true, 32))
	h.Properties = str(names.properties, false)
	h.ReconsumeTimes = int32(num(names.reconsume, false, 32))
	h.MaxReconsumeTimes = int32(num(names.maxReconsume, false, 32))
	h.Batch = str(names.batch, false) == "true"
	if len(errs) > 0 {
		return h, fmt.Errorf("%w: %s", errHeader, strings.Join(errs, ", "))
	}
	return h, nil
}

type sendFieldNames struct {
	group, topic, queueID, sysFlag, born, flag, properties, reconsume, maxReconsume, batch string
}

// handleSend serves a send request whose header is h: one message in the
// body, or a batch of them.
func handleSend(c *Conn, req *Command, h SendHeader, batch bool) *Command {
	s := c.s
	t, code, err := s.Topic(h.Topic, true)
	if err != nil {
		return errorResponse(req, code, err.Error())
	}
	partition := h.QueueID
	if partition < 0 { // "any queue", as RocketMQ brokers take it
		partition = rand.Int32N(max(s.QueueCount(t), 1))
	}
	if partition, err = s.Partition(t, partition); err != nil {
		return errorResponse(req, ResServiceNotAvailable, err.Error())
	}
	part, err := s.broker.Partition(t.Name, partition)
	if err != nil {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	msgs, err := decodeSendBody(req, h, batch, int(s.broker.TopicConfig(t).MaxMessageBytes))
	if err != nil {
		return errorResponse(req, ResMessageIllegal, err.Error())
	}
	sr := &SendRequest{Conn: c, Req: req, Header: h, Topic: t, Partition: partition, Messages: msgs}
	for _, d := range diverters {
		if resp, handled := d.fn(sr); handled {
			return resp
		}
	}
	recs := make([]log.Record, len(msgs))
	for i := range msgs {
		recs[i] = msgs[i].Record()
	}
	res, wait, err := s.Store(part, recs)
	if err != nil {
		if code := responseCode(err); code == ResMessageIllegal || code == ResSystemError {
			c.log.Warn("refused send", "topic", t.Name, "partition", partition, "err", err)
		}
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	resp := Response(req)
	ids := make([]string, len(msgs))
	for i := range msgs {
		ids[i] = MessageID(s.advertised, t.Name, partition, res.BaseOffset+int64(i))
	}
	resp.SetField("msgId", strings.Join(ids, ","))
	resp.SetField("queueId", strconv.Itoa(int(s.QueueID(t, partition))))
	resp.SetField("queueOffset", strconv.FormatInt(res.BaseOffset, 10))
	resp.SetField("MSG_REGION", "DefaultRegion")
	resp.SetField("TRACE_ON", "true")
	if msgs[0].Property(PropWaitStoreMsgOK) == "false" {
		// Answered now; the fsync still runs (flush.policy=always has no
		// other trigger), its outcome only logged.
		c.Later(req, func() *Command {
			if err := wait(); err != nil {
				c.log.Warn("send answered before it was durable (WAIT=false) is not", "topic", t.Name, "partition", partition, "err", err)
			}
			return nil
		})
		return resp
	}
	return c.Later(req, func() *Command {
		if err := wait(); err != nil {
			code := responseCode(err)
			if code != ResFlushSlaveTimeout {
				code = ResSystemError // stored, but its fsync failed
			}
			resp.Code, resp.Remark = code, broker.ErrorMessage(err)
		}
		return resp
	})
}

// decodeSendBody decodes a send request's message(s), their bodies
// decompressed and never over limit bytes.
func decodeSendBody(req *Command, h SendHeader, batch bool, limit int) ([]Message, error) {
	born := h.BornTimestamp
	if born <= 0 {
		born = time.Now().UnixMilli()
	}
	if !batch {
		body, err := decompressBody(req.Body, h.SysFlag, limit)
		if err != nil {
			return nil, err
		}
		return []Message{{
			Topic: h.Topic, Flag: h.Flag, Body: body, Properties: ParseProperties(h.Properties),
			BornTimestamp: born, ReconsumeTimes: h.ReconsumeTimes,
		}}, nil
	}
	msgs, err := decodeBatchBody(req.Body)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		msgs[i].Topic, msgs[i].BornTimestamp = h.Topic, born
	}
	return msgs, nil
}

// Store appends recs to p as one batch, checking first that the ISR is big
// enough (acks=all). wait, run off the read goroutine, returns once the
// batch is durable under the topic's flush.policy and, on a replicated
// partition, in the ISR. Send diverters use it to store elsewhere.
func (s *Server) Store(p *broker.Partition, recs []log.Record) (broker.AppendResult, func() error, error) {
	if err := p.CheckMinISR(); err != nil {
		return broker.AppendResult{}, nil, err
	}
	res, err := p.Append(log.NewRecordBatch(recs))
	if err != nil {
		return res, nil, err
	}
	wait := func() error {
		if err := p.Sync(res.LastOffset + 1); err != nil {
			return err
		}
		return p.WaitReplicated(res.LastOffset+1, replicationTimeout)
	}
	return res, wait, nil
}
