package rocketmq

// SEND_MESSAGE_V2 (310): SEND_MESSAGE with the header's fields named a to
// n (SendMessageRequestHeaderV2; Java clients send it). Same semantics.

func init() { register(codeSendMessageV2, handleSendMessageV2) }

var shortSendFields = sendFieldNames{
	group: "a", topic: "b", queueID: "e", sysFlag: "f", born: "g",
	flag: "h", properties: "i", reconsume: "j", maxReconsume: "l", batch: "m",
}

func handleSendMessageV2(c *Conn, req *Command) *Command {
	h, err := headerFields(req, shortSendFields)
	if err != nil {
		return errorResponse(req, ResInvalidParameter, err.Error())
	}
	return handleSend(c, req, h, h.Batch)
}
