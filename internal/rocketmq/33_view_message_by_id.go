package rocketmq

import (
	"strconv"
	"strings"
)

// VIEW_MESSAGE_BY_ID (33): the message whose commit-log offset (the last
// 16 hex characters of its message id, see doc.go) is the offset field.
// The offset names a partition by hash and a record offset: each local
// partition with that hash is read at that offset (a hash collision means
// reading more than one). The answer's body is one MessageExt entry; none
// found is SYSTEM_ERROR, as RocketMQ answers.

func init() { register(codeViewMessageByID, handleViewMessageByID) }

func handleViewMessageByID(c *Conn, req *Command) *Command {
	s := c.s
	clo, err := strconv.ParseInt(req.Field("offset"), 10, 64)
	if err != nil || clo < 0 {
		return errorResponse(req, ResInvalidParameter, "offset="+strconv.Quote(req.Field("offset"))+" is not a commit-log offset")
	}
	id := DecodedID{Hash: uint64(clo) >> offsetBits, Offset: clo & (1<<offsetBits - 1)}
	return c.Later(req, func() *Command {
		for _, p := range s.broker.LocalReplicas() {
			if strings.HasPrefix(p.Topic, "__") || !id.Matches(p.Topic, p.Index) {
				continue
			}
			body, ok, err := s.encodeStored(nil, p, id.Offset)
			if err != nil {
				c.log.Warn("cannot read a message by id", "topic", p.Topic, "partition", p.Index, "offset", id.Offset, "err", err)
				continue
			}
			if ok {
				resp := Response(req)
				resp.Body = body
				return resp
			}
		}
		return errorResponse(req, ResSystemError, "no message at commit-log offset "+strconv.FormatInt(clo, 10))
	})
}
