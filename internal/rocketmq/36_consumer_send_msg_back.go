package rocketmq

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/schedule"
)

// CONSUMER_SEND_MSG_BACK (36): header group, offset (the message's
// commit-log offset), delayLevel, originMsgId, originTopic,
// maxReconsumeTimes.
//
// A consumer hands back a message it failed to consume. The broker finds
// it by its commit-log offset (msgid.go: the hash names the partition of
// originTopic, or of the group's retry topic for a message that was
// already retried) and writes a copy for the group:
//
//   - when the message's reconsume count (its RECONSUME_TIME header) has
//     reached maxReconsumeTimes (16 when the header has none), or
//     delayLevel is negative, to the dead-letter topic %DLQ%G (Ferry
//     topic G.dlq, one queue) at once;
//   - otherwise to the retry topic %RETRY%G (G.retry, one queue), due
//     after delay level delayLevel, or 3 + the reconsume count when
//     delayLevel is 0 (10 s, 30 s, 1 min, 2 min … as RocketMQ backs off).
//
// The copy keeps body, key, timestamp and properties, with RECONSUME_TIME
// one more, RETRY_TOPIC the original topic (kept from the first
// retry) and ORIGIN_MESSAGE_ID the first message's id. Both topics are
// created when missing. A retry waits its back-off in the broker's
// scheduler (internal/schedule), which appends it to the retry topic when
// due. The answer comes once the copy is durable (in the scheduler for a
// retry); a message that cannot be found, or a scheduler this node cannot
// reach (on a cluster it runs on the leader of __scheduled), answers
// SYSTEM_ERROR, on which the client sends the message back as a normal
// send to %RETRY%G instead.

func init() { register(codeConsumerSendMsgBack, handleConsumerSendMsgBack) }

// defaultMaxReconsumeTimes is RocketMQ's retry limit when the consumer
// names none.
const defaultMaxReconsumeTimes = 16

type sendBackRequest struct {
	group, originTopic, originMsgID string
	commitLogOffset                 int64
	delayLevel, maxReconsume        int
}

func handleConsumerSendMsgBack(c *Conn, req *Command) *Command {
	sb, bad := parseSendBack(req)
	if bad != "" {
		return errorResponse(req, ResInvalidParameter, "send back: "+bad)
	}
	s := c.s
	orig, err := s.findByCommitLogOffset(sb.commitLogOffset, sb.originTopic, RetryTopic(sb.group))
	if err != nil {
		return errorResponse(req, ResSystemError, "send back: "+err.Error())
	}
	rec, dead, delay := retryCopy(orig, sb, s.MessageIDOf(orig))
	target := RetryTopic(sb.group)
	if dead {
		target = DLQTopic(sb.group)
	}
	t, err := s.ensureGroupTopic(target)
	if err != nil {
		return errorResponse(req, ResSystemError, "send back: "+err.Error())
	}
	wait, err := s.storeRetry(t.Name, rec, delay)
	if err != nil {
		return errorResponse(req, responseCode(err), "send back: "+broker.ErrorMessage(err))
	}
	return c.Later(req, func() *Command {
		if err := wait(); err != nil {
			return errorResponse(req, ResSystemError, "send back: "+broker.ErrorMessage(err))
		}
		return Response(req)
	})
}

func parseSendBack(req *Command) (sendBackRequest, string) {
	sb := sendBackRequest{
		group: req.Field("group"), originTopic: req.Field("originTopic"), originMsgID: req.Field("originMsgId"),
		maxReconsume: defaultMaxReconsumeTimes,
	}
	if sb.group == "" {
		return sb, "missing group"
	}
	var err error
	if sb.commitLogOffset, err = strconv.ParseInt(req.Field("offset"), 10, 64); err != nil {
		return sb, "offset " + strconv.Quote(req.Field("offset")) + " is not a number"
	}
	if v := req.Field("delayLevel"); v != "" {
		if sb.delayLevel, err = strconv.Atoi(v); err != nil {
			return sb, "delayLevel " + strconv.Quote(v) + " is not a number"
		}
	}
	if v := req.Field("maxReconsumeTimes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return sb, "maxReconsumeTimes " + strconv.Quote(v) + " is not a number"
		}
		if n >= 0 {
			sb.maxReconsume = n
		}
	}
	return sb, ""
}

// storedMessage is a record found by its commit-log offset, with copies of
// its bytes.
type storedMessage struct {
	topic     string // Ferry topic
	partition int32
	offset    int64
	timestamp int64
	key       []byte
	value     []byte
	headers   []kmsg.Header
}

func (m *storedMessage) header(name string) (string, bool) {
	for _, h := range m.headers {
		if h.Key == name {
			return string(h.Value), true
		}
	}
	return "", false
}

// MessageIDOf is the offsetMsgId of a stored message.
func (s *Server) MessageIDOf(m *storedMessage) string {
	return MessageID(s.advertised, m.topic, m.partition, m.offset)
}

// retryCopy builds the record a sent-back message becomes, whether it is
// a dead letter, and how long a retry waits.
func retryCopy(orig *storedMessage, sb sendBackRequest, origID string) (rec log.Record, dead bool, delay time.Duration) {
	reconsumed := 0
	if v, ok := orig.header(PropReconsumeTime); ok {
		reconsumed, _ = strconv.Atoi(v)
	}
	dead = reconsumed >= sb.maxReconsume || sb.delayLevel < 0
	if !dead {
		level := sb.delayLevel
		if level == 0 {
			level = 3 + reconsumed
		}
		delay, _ = schedule.DelayLevel(level)
	}
	rec = log.Record{Key: orig.key, Value: orig.value, Timestamp: orig.timestamp}
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	retryTopic, hasRetryTopic := orig.header(PropRetryTopic)
	if !hasRetryTopic {
		retryTopic = RocketTopic(orig.topic)
	}
	originID, hasOrigin := orig.header(PropOriginMessageID)
	if !hasOrigin {
		originID = sb.originMsgID
		if originID == "" {
			originID = origID
		}
	}
	for _, h := range orig.headers {
		switch h.Key {
		case PropReconsumeTime, PropRetryTopic, PropOriginMessageID, PropDelayLevel:
			continue
		}
		rec.Headers = append(rec.Headers, h)
	}
	rec.Headers = append(rec.Headers,
		kmsg.Header{Key: PropReconsumeTime, Value: strconv.AppendInt(nil, int64(reconsumed+1), 10)},
		kmsg.Header{Key: PropRetryTopic, Value: []byte(retryTopic)},
		kmsg.Header{Key: PropOriginMessageID, Value: []byte(originID)},
	)
	return rec, dead, delay
}
