package rocketmq

import (
	"strconv"
	"time"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/filter"
	"github.com/ferry-mq/ferry/internal/rocketmq/msgext"
)

// PULL_MESSAGE (11): header consumerGroup, topic, queueId, queueOffset,
// maxMsgNums, sysFlag, commitOffset, suspendTimeoutMillis, subscription,
// expressionType.
//
// Reads up to maxMsgNums messages of the queue from queueOffset that the
// subscription accepts (the filter runs here, so unwanted messages never
// cross the network; filter package), encoded as RocketMQ MessageExt
// entries (msgext package), and answers SUCCESS with them; the response
// header gives nextBeginOffset, minOffset, maxOffset and
// suggestWhichBrokerId 0 (every Ferry node is a master). With nothing new
// and the suspend flag (sysFlag bit 1) the request parks — long polling —
// until an append to the partition wakes it or suspendTimeoutMillis
// (capped at maxPullSuspend) passes, then answers PULL_NOT_FOUND. An
// offset outside [minOffset, maxOffset] answers PULL_OFFSET_MOVED with
// nextBeginOffset the nearest valid one; a walk of pullScanBytes of log
// where the filter matched nothing answers PULL_RETRY_IMMEDIATELY with
// the offset reached. With the commit-offset flag (bit 0) the request's
// commitOffset is stored for the group (clustering consumers send their
// progress this way), as UPDATE_CONSUMER_OFFSET does, without waiting
// for it to be durable.
//
// The subscription is the request's own when sysFlag bit 2 is set, else
// the one the group registered with HEART_BEAT for the topic (the Go push
// consumer sends none in the pull); an expression that does not compile
// answers SUBSCRIPTION_PARSE_FAILED.

func init() { register(codePullMessage, handlePullMessage) }

// Pull request sysFlag bits (PullSysFlag).
const (
	pullFlagCommitOffset = 1 << 0
	pullFlagSuspend      = 1 << 1
	pullFlagSubscription = 1 << 2
)

// maxPullSuspend caps a long poll: the Go client waits 30 s for the
// answer to a pull and asks to be held 20 s.
const maxPullSuspend = 25 * time.Second

type pullRequest struct {
	group, topic        string // topic as the client names it
	queueID             int32
	offset              int64
	maxMsgs             int
	sysFlag             int32
	commitOffset        int64
	suspend             time.Duration
	subscription, sType string
}

func parsePullRequest(req *Command) (pullRequest, string) {
	var pr pullRequest
	var bad string
	num := func(name string, bits int, required bool) int64 {
		v, ok := req.ExtFields[name]
		if !ok || v == "" {
			if required && bad == "" {
				bad = "missing " + name
			}
			return 0
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil && bad == "" {
			bad = name + "=" + strconv.Quote(v) + " is not a number"
		}
		return n
	}
	pr.group = req.Field("consumerGroup")
	pr.topic = req.Field("topic")
	pr.queueID = int32(num("queueId", 32, true))
	pr.offset = num("queueOffset", 64, true)
	pr.maxMsgs = int(num("maxMsgNums", 32, true))
	pr.sysFlag = int32(num("sysFlag", 32, true))
	pr.commitOffset = num("commitOffset", 64, false)
	pr.suspend = time.Duration(num("suspendTimeoutMillis", 64, false)) * time.Millisecond
	pr.subscription = req.Field("subscription")
	pr.sType = req.Field("expressionType")
	switch {
	case bad != "":
	case pr.group == "":
		bad = "missing consumerGroup"
	case pr.maxMsgs <= 0:
		bad = "maxMsgNums must be positive"
	}
	pr.maxMsgs = min(pr.maxMsgs, maxPullMessages)
	pr.suspend = min(max(pr.suspend, 0), maxPullSuspend)
	return pr, bad
}

func handlePullMessage(c *Conn, req *Command) *Command {
	pr, bad := parsePullRequest(req)
	if bad != "" {
		return errorResponse(req, ResInvalidParameter, "pull: "+bad)
	}
	s := c.s
	t, code, err := s.Topic(pr.topic, false)
	if err != nil {
		return errorResponse(req, code, err.Error())
	}
	partition, err := s.Partition(t, pr.queueID)
	if err != nil {
		return errorResponse(req, ResNotLeaderForQueue, err.Error())
	}
	part, err := s.broker.Partition(t.Name, partition)
	if err != nil {
		return errorResponse(req, responseCode(err), broker.ErrorMessage(err))
	}
	f, err := s.subscription(pr.group, pr.topic, pr.sysFlag, pr.sType, pr.subscription)
	if err != nil {
		return errorResponse(req, ResSubscriptionParseFailed, err.Error())
	}
	q := s.pullQueue(pr.topic, t.Name, partition, pr.queueID)
	if err := q.Check(); err != nil {
		return errorResponse(req, ResTopicNotExist, err.Error())
	}
	if pr.sysFlag&pullFlagCommitOffset != 0 && pr.commitOffset >= 0 {
		s.commitPulledOffset(c, pr, t.Name, partition)
	}
	cache := s.consume.batches.forPartition(t.Name, partition)
	return c.Later(req, func() *Command { return pull(c, req, pr, part, q, f, cache) })
}

// pull reads the queue, long-polling while there is nothing new.
func pull(c *Conn, req *Command, pr pullRequest, part *broker.Partition, q *msgext.Queue, f *filter.Filter, cache log.RecordsCache) *Command {
	var wake chan struct{}
	var timer *time.Timer
	defer func() {
		if wake != nil {
			part.Unwatch(wake)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	offset := pr.offset
	for {
		res, err := readQueue(part, q, offset, pr.maxMsgs, f, cache)
		if err != nil {
			c.log.Error("pull: read failed", "topic", pr.topic, "queue", pr.queueID, "offset", offset, "err", err)
			return errorResponse(req, ResSystemError, "pull: reading the queue failed: "+err.Error())
		}
		offset = res.next
		if res.status != pullNoNew || pr.sysFlag&pullFlagSuspend == 0 || pr.suspend == 0 {
			return pullResponse(req, part, res)
		}
		if wake == nil {
			// Register, then read again: an append between the read
			// and the registration must not be missed.
			wake = make(chan struct{}, 1)
			part.Watch(wake)
			timer = time.NewTimer(pr.suspend)
			continue
		}
		select {
		case <-wake:
		case <-timer.C:
			res, err = readQueue(part, q, offset, pr.maxMsgs, f, cache)
			if err != nil {
				return errorResponse(req, ResSystemError, "pull: reading the queue failed: "+err.Error())
			}
			return pullResponse(req, part, res)
		case <-c.Done():
			return nil
		case <-c.s.ctx.Done():
			return nil
		}
	}
}

// pullResponse answers a pull with what the read found, counting the
// messages sent in the partition's traffic (records and bytes out, as
// Kafka fetches are counted).
func pullResponse(req *Command, part *broker.Partition, res pullResult) *Command {
	resp := Response(req)
	switch res.status {
	case pullFound:
		resp.Body = res.body
		part.CountFetched(int64(res.messages), int64(len(res.body)))
	case pullNoNew:
		resp.Code, resp.Remark = ResPullNotFound, "no new message"
	case pullNoMatch:
		resp.Code, resp.Remark = ResPullRetryImmediately, "no message matched the subscription"
	case pullOffsetMoved:
		resp.Code, resp.Remark = ResPullOffsetMoved, "offset outside the queue"
	}
	resp.SetField("nextBeginOffset", strconv.FormatInt(res.next, 10))
	resp.SetField("minOffset", strconv.FormatInt(res.minOffset, 10))
	resp.SetField("maxOffset", strconv.FormatInt(res.maxOffset, 10))
	resp.SetField("suggestWhichBrokerId", "0")
	return resp
}

// commitPulledOffset stores the offset a pull carries without making the
// pull wait for it (RocketMQ consumers commit their progress again and
// again): here, or at the group's coordinator node on a cluster.
func (s *Server) commitPulledOffset(c *Conn, pr pullRequest, topic string, partition int32) {
	addr, local, err := s.coordinatorPeer(pr.group)
	if err != nil {
		c.log.Warn("pull: offset not committed", "group", pr.group, "topic", topic, "partition", partition, "err", err)
		return
	}
	if !local {
		req := &Command{Code: codeUpdateConsumerOffset, ExtFields: map[string]string{
			"consumerGroup": pr.group, "topic": pr.topic, "commitOffset": strconv.FormatInt(pr.commitOffset, 10),
		}}
		go func() {
			if resp := s.forwardOffsetRequest(addr, req, partition); resp.Code != ResSuccess {
				c.log.Warn("pull: forwarded offset commit failed", "group", pr.group, "topic", topic, "partition", partition, "code", resp.Code, "remark", resp.Remark)
			}
		}()
		return
	}
	wait := s.commitOffset(pr.group, topic, partition, pr.commitOffset)
	go func() {
		if err := wait(); err != nil {
			c.log.Warn("pull: offset commit failed", "group", pr.group, "topic", topic, "partition", partition, "err", err)
		}
	}()
}
