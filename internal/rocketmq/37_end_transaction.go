package rocketmq

import (
	"errors"
	"strconv"

	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/halftxn"
)

// END_TRANSACTION (37): a producer ends a half message's transaction,
// right after its local transaction or answering a check-back
// (fromTransactionCheck). Fields: tranStateTableOffset (the half message,
// as the send answered it in queueOffset), commitLogOffset (the same,
// inside the message id; used when tranStateTableOffset is absent),
// commitOrRollback (8 commit, 12 rollback, 0 unknown: left for the
// check-back), msgId (the client's UNIQ_KEY, which must match),
// producerGroup. Clients send it oneway-style and ignore the answer; the
// answer still says what happened: SUCCESS, or SYSTEM_ERROR with why (no
// such pending half message: already ended or rolled back by the checker).
//
// This file also registers the send diverter that stores half messages;
// it is registered here, in a file sorting before the other diverters'
// files, so that a transactional message is never scheduled or stored
// as an ordinary one.

func init() {
	register(codeEndTransaction, handleEndTransaction)
	RegisterSendDiverter("half", divertHalf)
}

// commitOrRollback values (MessageSysFlag's transaction types).
const (
	txnNotType  = 0
	txnCommit   = 8
	txnRollback = 12
)

func handleEndTransaction(c *Conn, req *Command) *Command {
	s := c.s
	store := s.halfStore.Load()
	if store == nil {
		return errorResponse(req, ResServiceNotAvailable, "transactional messages are not served by this node")
	}
	id, err := strconv.ParseInt(req.Field("tranStateTableOffset"), 10, 64)
	if err != nil {
		clo, cerr := strconv.ParseInt(req.Field("commitLogOffset"), 10, 64)
		if cerr != nil {
			return errorResponse(req, ResInvalidParameter, "tranStateTableOffset and commitLogOffset are missing or not numbers")
		}
		id = clo & (1<<offsetBits - 1)
	}
	var action halftxn.Action
	switch v := req.Field("commitOrRollback"); v {
	case strconv.Itoa(txnCommit):
		action = halftxn.Commit
	case strconv.Itoa(txnRollback):
		action = halftxn.Rollback
	case strconv.Itoa(txnNotType), "":
		action = halftxn.Unknown
	default:
		return errorResponse(req, ResInvalidParameter, "commitOrRollback="+strconv.Quote(v)+" is not 0, 8 or 12")
	}
	uniq, fromCheck, group := req.Field("msgId"), req.Field("fromTransactionCheck") == "true", req.Field("producerGroup")
	return c.Later(req, func() *Command {
		err := store.End(id, action, uniq)
		switch {
		case err == nil:
			c.log.Debug("transaction ended", "id", id, "action", action, "msgId", uniq, "group", group, "fromCheck", fromCheck)
			return Response(req)
		case errors.Is(err, halftxn.ErrNotFound):
			c.log.Info("END_TRANSACTION for no pending half message", "id", id, "action", action, "msgId", uniq, "group", group, "fromCheck", fromCheck)
		default:
			c.log.Warn("END_TRANSACTION failed; the half message stays pending", "id", id, "action", action, "msgId", uniq, "err", err)
		}
		return errorResponse(req, ResSystemError, err.Error())
	})
}

// divertHalf stores a message with TRAN_MSG=true as a half message.
func divertHalf(sr *SendRequest) (*Command, bool) {
	if len(sr.Messages) == 0 || sr.Messages[0].Property(PropTransaction) != "true" {
		return nil, false
	}
	c, req, s := sr.Conn, sr.Req, sr.Conn.s
	if len(sr.Messages) > 1 {
		return errorResponse(req, ResMessageIllegal, "transactional messages cannot be sent in a batch"), true
	}
	store := s.halfStore.Load()
	if store == nil {
		return errorResponse(req, ResServiceNotAvailable, "transactional messages are not served by this node"), true
	}
	m := sr.Messages[0]
	group := m.Property(PropProducerGroup)
	if group == "" {
		group = sr.Header.ProducerGroup
		m.SetProperty(PropProducerGroup, group)
	}
	half := halftxn.Half{
		Topic: sr.Topic.Name, Partition: sr.Partition, Group: group, UniqKey: m.Property(PropUniqKey),
		Batch: log.NewRecordBatch([]log.Record{m.Record()}),
	}
	queueID := s.QueueID(sr.Topic, sr.Partition)
	s.halfSenders.note(group, c)
	return c.Later(req, func() *Command {
		id, err := store.Prepare(half)
		if err != nil {
			c.log.Warn("cannot store a half message", "topic", half.Topic, "group", group, "err", err)
			return errorResponse(req, responseCode(err), err.Error())
		}
		resp := Response(req)
		resp.SetField("msgId", MessageID(s.advertised, HalfTopic, 0, id))
		resp.SetField("queueId", strconv.Itoa(int(queueID)))
		resp.SetField("queueOffset", strconv.FormatInt(id, 10))
		resp.SetField("transactionId", half.UniqKey)
		resp.SetField("MSG_REGION", "DefaultRegion")
		resp.SetField("TRACE_ON", "true")
		return resp
	}), true
}
