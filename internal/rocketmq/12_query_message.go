package rocketmq

import (
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/msgindex"
)

// QUERY_MESSAGE (12): messages of a topic by key (a word of KEYS, or the
// client's message id UNIQ_KEY), newest index entries first, at most maxNum
// (default 32, at most 1000), with store times in [beginTimestamp,
// endTimestamp] (ms). The answer's body holds MessageExt entries, as a
// pull's; none found is QUERY_NOT_FOUND. The index fills asynchronously:
// the query first waits (up to a second) for it to reach the end of the
// partitions it searches, so a message just sent is found.
//
// Ferry's extensions, for `ferry message find`: topic "" or "*" searches
// every topic; ferryRelated=true also returns the topic's messages that
// went to a group's retry or dead-letter topic (records of G.retry and
// G.dlq whose RETRY_TOPIC is the topic).

func init() { register(codeQueryMessage, handleQueryMessage) }

const (
	defaultQueryMax = 32
	maxQueryMax     = 1000
	queryIndexWait  = time.Second
)

func handleQueryMessage(c *Conn, req *Command) *Command {
	s := c.s
	if s.msgIndex == nil {
		return errorResponse(req, ResSystemError, "the message index is off on this node (--rocketmq-message-index=false)")
	}
	key := req.Field("key")
	if key == "" {
		return errorResponse(req, ResInvalidParameter, "key is empty")
	}
	limit := defaultQueryMax
	if v := req.Field("maxNum"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errorResponse(req, ResInvalidParameter, "maxNum="+strconv.Quote(v)+" is not a positive number")
		}
		limit = min(n, maxQueryMax)
	}
	from, _ := strconv.ParseInt(req.Field("beginTimestamp"), 10, 64)
	to, _ := strconv.ParseInt(req.Field("endTimestamp"), 10, 64)
	rocketTopic := req.Field("topic")
	related := req.Field("ferryRelated") == "true"
	var topics func(string) bool
	if rocketTopic != "" && rocketTopic != "*" {
		ferry, err := FerryTopic(rocketTopic)
		if err != nil {
			return errorResponse(req, ResTopicNotExist, err.Error())
		}
		if _, ok := s.broker.Image().Topic(ferry); !ok {
			return errorResponse(req, ResTopicNotExist, "topic "+rocketTopic+" does not exist")
		}
		topics = func(t string) bool {
			return t == ferry || related && (strings.HasSuffix(t, retrySuffix) || strings.HasSuffix(t, dlqSuffix))
		}
	}
	return c.Later(req, func() *Command {
		found, err := s.msgIndex.Find(msgindex.Query{Key: key, Topics: topics, FromMs: from, ToMs: to, Limit: limit, WaitIndexedFor: queryIndexWait})
		if err != nil {
			c.log.Warn("message index lookup failed in part", "key", key, "err", err)
		}
		var body []byte
		n := 0
		for _, f := range found {
			if topics != nil && f.Topic != rocketTopicFerry(rocketTopic) && headerValue(f.Record, PropRetryTopic) != rocketTopic {
				continue // a retry or dead letter of another topic
			}
			p, perr := s.broker.Partition(f.Topic, f.Partition)
			if perr != nil {
				continue
			}
			var ok bool
			if body, ok, err = s.encodeStored(body, p, f.Record.Offset); err != nil {
				c.log.Warn("cannot read a message the index found", "topic", f.Topic, "partition", f.Partition, "offset", f.Record.Offset, "err", err)
			} else if ok {
				n++
			}
		}
		if n == 0 {
			return errorResponse(req, ResQueryNotFound, "no message with key "+strconv.Quote(key))
		}
		resp := Response(req)
		resp.SetField("indexLastUpdateTimestamp", strconv.FormatInt(time.Now().UnixMilli(), 10))
		resp.SetField("indexLastUpdatePhyoffset", "0")
		resp.Body = body
		return resp
	})
}

// rocketTopicFerry is FerryTopic without the error (only called on names
// already checked).
func rocketTopicFerry(rocketTopic string) string {
	t, _ := FerryTopic(rocketTopic)
	return t
}

func headerValue(r msgindex.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}
