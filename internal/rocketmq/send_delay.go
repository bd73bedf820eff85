package rocketmq

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/schedule"
)

// Delayed and scheduled sends go to the broker's scheduler (internal/
// schedule) instead of their queue, and appear on it, as ordinary
// records, when due:
//
//   - DELAY=<level> (1..18: 1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m
//     20m 30m 1h 2h; higher levels count as 18, as in RocketMQ). A level
//     wins over the timer properties, which are then ignored.
//   - RocketMQ 5 timer properties, in RocketMQ's order of precedence:
//     TIMER_DELAY_SEC (seconds from now), TIMER_DELAY_MS (ms from now),
//     TIMER_DELIVER_MS (unix ms); then __STARTDELIVERTIME (unix ms, the
//     older commercial name). Any horizon: there is no timerMaxDelaySec.
//     A time already past sends the message at once.
//   - FERRY_CANCEL=<anything> on a message with KEYS: not stored; it
//     cancels every message for the topic scheduled before it whose KEYS
//     equal this one's (compared as sent, spaces included) and that is not
//     yet delivered. Ferry's extension: no open-source broker cancels.
//
// The delivered record has the DELAY, TIMER_DELAY_SEC and TIMER_DELAY_MS
// properties removed (as RocketMQ's schedule service removes DELAY), so a
// consumer that sends it on does not delay it again. Half messages
// (TRAN_MSG=true) are left to the transaction store, which schedules them
// when they commit. In a batch holding a delayed message the others go
// through the scheduler too, due at once. The answer's msgId and queueOffset are those of the
// record in __scheduled (the message has no queue offset until it is due).

func init() { RegisterSendDiverter("delay", divertDelayed) }

// PropCancel marks a send that cancels scheduled messages by KEYS.
const PropCancel = "FERRY_CANCEL"

func divertDelayed(sr *SendRequest) (*Command, bool) {
	now := time.Now()
	var msgs []schedule.Message
	var cancels []schedule.Cancel
	delayed := false
	for i := range sr.Messages {
		m := &sr.Messages[i]
		if m.Property(PropTransaction) == "true" {
			return nil, false
		}
		at, cancel, err := deliveryTime(m, now)
		if err != nil {
			return errorResponse(sr.Req, ResMessageIllegal, err.Error()), true
		}
		switch {
		case cancel:
			keys := m.Property(PropKeys)
			if keys == "" {
				return errorResponse(sr.Req, ResMessageIllegal, PropCancel+" needs KEYS: it cancels the scheduled messages with those keys"), true
			}
			cancels = append(cancels, schedule.Cancel{Topic: sr.Topic.Name, Key: []byte(keys)})
			delayed = true
			continue
		case !at.IsZero():
			delayed = true
		}
		m.RemoveProperty(PropDelayLevel)
		m.RemoveProperty(PropTimerDelaySec)
		m.RemoveProperty(PropTimerDelayMS)
		r := m.Record()
		msgs = append(msgs, schedule.Message{Topic: sr.Topic.Name, Partition: sr.Partition, Key: r.Key, Value: r.Value,
			Headers: r.Headers, Timestamp: time.UnixMilli(r.Timestamp), DeliverAt: at})
	}
	if !delayed {
		return nil, false // nothing delayed: the normal path, untouched
	}
	c, s := sr.Conn, sr.Conn.s
	first, wait, err := s.broker.StoreScheduled(msgs, cancels)
	if err != nil {
		code := responseCode(err)
		if errors.Is(err, kerr.NotCoordinator) || errors.Is(err, schedule.ErrClosed) {
			code = ResServiceNotAvailable
		}
		return errorResponse(sr.Req, code, broker.ErrorMessage(err)), true
	}
	resp := Response(sr.Req)
	ids := make([]string, len(msgs)+len(cancels))
	for i := range ids {
		ids[i] = MessageID(s.advertised, broker.ScheduledTopic, 0, first+int64(i))
	}
	resp.SetField("msgId", strings.Join(ids, ","))
	resp.SetField("queueId", strconv.Itoa(int(s.QueueID(sr.Topic, sr.Partition))))
	resp.SetField("queueOffset", strconv.FormatInt(first, 10))
	resp.SetField("MSG_REGION", "DefaultRegion")
	resp.SetField("TRACE_ON", "true")
	if len(sr.Messages) > 0 && sr.Messages[0].Property(PropWaitStoreMsgOK) == "false" {
		return resp, true
	}
	return c.Later(sr.Req, func() *Command {
		if err := wait(); err != nil {
			code := responseCode(err)
			if code != ResFlushSlaveTimeout {
				code = ResSystemError
			}
			resp.Code, resp.Remark = code, broker.ErrorMessage(err)
		}
		return resp
	}), true
}

// deliveryTime reads a message's delay properties: the time to deliver it
// (zero: now, not delayed) or that it is a cancel.
func deliveryTime(m *Message, now time.Time) (at time.Time, cancel bool, err error) {
	if m.Property(PropCancel) != "" {
		return time.Time{}, true, nil
	}
	if v := m.Property(PropDelayLevel); v != "" {
		level, err := strconv.Atoi(v)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s=%q is not a delay level (1..%d)", PropDelayLevel, v, schedule.MaxDelayLevel)
		}
		if d, ok := schedule.DelayLevel(level); ok {
			return now.Add(d), false, nil
		}
		return time.Time{}, false, nil // level 0 or below: no delay
	}
	ms := now.UnixMilli()
	var deliverMs int64
	for _, p := range []struct {
		name  string
		scale int64 // ms per unit; 0 = absolute unix ms
	}{{PropTimerDelaySec, 1000}, {PropTimerDelayMS, 1}, {PropTimerDeliverMS, 0}, {PropStartDeliverTime, 0}} {
		v := m.Property(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || (p.scale > 0 && n > (math.MaxInt64-ms)/p.scale) {
			return time.Time{}, false, fmt.Errorf("%s=%q is not a valid time", p.name, v)
		}
		if p.scale == 0 {
			deliverMs = n
		} else {
			deliverMs = ms + n*p.scale
		}
		break
	}
	if deliverMs <= ms {
		return time.Time{}, false, nil // no timer, or already due: send now
	}
	return time.UnixMilli(deliverMs), false, nil
}
