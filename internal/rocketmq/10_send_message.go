package rocketmq

// SEND_MESSAGE (10): one message, header SendMessageRequestHeader with its
// long field names (what rocketmq-client-go sends for every single
// message); the body is the message body, zlib-compressed when sysFlag
// bit 0 says so. The shared path is in send.go. Answers msgId (the
// offsetMsgId, msgid.go), queueId and queueOffset.

func init() { register(codeSendMessage, handleSendMessage) }

var longSendFields = sendFieldNames{
	group: "producerGroup", topic: "topic", queueID: "queueId", sysFlag: "sysFlag", born: "bornTimestamp",
	flag: "flag", properties: "properties", reconsume: "reconsumeTimes", maxReconsume: "maxReconsumeTimes", batch: "batch",
}

func handleSendMessage(c *Conn, req *Command) *Command {
	h, err := headerFields(req, longSendFields)
	if err != nil {
		return errorResponse(req, ResInvalidParameter, err.Error())
	}
	return handleSend(c, req, h, h.Batch)
}
