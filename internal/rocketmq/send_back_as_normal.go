package rocketmq

import (
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
)

// A consumer whose CONSUMER_SEND_MSG_BACK failed (or an orderly consumer
// that ran out of local retries) sends the message back as a normal send
// to %RETRY%G, with reconsumeTimes and maxReconsumeTimes in the send
// header. As RocketMQ brokers do, such a send is a retry: its messages get
// RECONSUME_TIME (so pulls report the count), and go to the dead-letter
// topic %DLQ%G (G.dlq) instead when reconsumeTimes is past
// maxReconsumeTimes (16 when the header has none) or when the group
// consumes orderly (it holds queue locks: orderly consumers retry
// locally and send back only what they give up on). A retry that is not
// dead goes on along the send path, where its DELAY property schedules it.
//
// The diverter is registered from this file, whose name sorts before the
// delay diverter's, so that a dead letter is never scheduled.

func init() { RegisterSendDiverter("retry", divertRetrySend) }

func divertRetrySend(sr *SendRequest) (*Command, bool) {
	if !strings.HasPrefix(sr.Header.Topic, retryPrefix) {
		return nil, false
	}
	s := sr.Conn.s
	group := sr.Header.Topic[len(retryPrefix):]
	reconsumed := sr.Header.ReconsumeTimes
	maxReconsume := int32(defaultMaxReconsumeTimes)
	if sr.Req.Field("maxReconsumeTimes") != "" || sr.Req.Field("l") != "" {
		maxReconsume = sr.Header.MaxReconsumeTimes
	}
	for i := range sr.Messages {
		sr.Messages[i].SetProperty(PropReconsumeTime, strconv.Itoa(int(reconsumed)))
	}
	if reconsumed <= maxReconsume && !s.consume.locks.Held(group) {
		return nil, false
	}
	return s.storeDeadLetters(sr, group), true
}

// storeDeadLetters writes a send's messages to group's dead-letter topic
// and answers the send as the normal path would.
func (s *Server) storeDeadLetters(sr *SendRequest, group string) *Command {
	req := sr.Req
	t, err := s.ensureGroupTopic(DLQTopic(group))
	if err != nil {
		return errorResponse(req, ResSystemError, err.Error())
	}
	part, err := s.broker.Partition(t.Name, 0)
	if err != nil {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	recs := make([]log.Record, len(sr.Messages))
	for i := range sr.Messages {
		m := &sr.Messages[i]
		for _, p := range []string{PropDelayLevel, PropTimerDeliverMS, PropTimerDelaySec, PropTimerDelayMS, PropStartDeliverTime} {
			m.RemoveProperty(p)
		}
		recs[i] = m.Record()
	}
	res, wait, err := s.Store(part, recs)
	if err != nil {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	resp := Response(req)
	ids := make([]string, len(recs))
	for i := range recs {
		ids[i] = MessageID(s.advertised, t.Name, 0, res.BaseOffset+int64(i))
	}
	resp.SetField("msgId", strings.Join(ids, ","))
	resp.SetField("queueId", strconv.Itoa(int(s.QueueID(t, 0))))
	resp.SetField("queueOffset", strconv.FormatInt(res.BaseOffset, 10))
	return sr.Conn.Later(req, func() *Command {
		if err := wait(); err != nil {
			resp.Code, resp.Remark = ResSystemError, broker.ErrorMessage(err)
		}
		return resp
	})
}
