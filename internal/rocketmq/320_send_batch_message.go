package rocketmq

// SEND_BATCH_MESSAGE (320): several messages of one topic and queue,
// header in the V2 form, body the messages one after another (each
// TOTALSIZE MAGIC BODYCRC FLAG BODYLEN BODY PROPLEN PROPERTIES). They are
// stored as one record batch (all or none) and answered with their
// message ids comma-separated and the first one's queue offset.

func init() { register(codeSendBatchMessage, handleSendBatchMessage) }

func handleSendBatchMessage(c *Conn, req *Command) *Command {
	h, err := headerFields(req, shortSendFields)
	if err != nil {
		return errorResponse(req, ResInvalidParameter, err.Error())
	}
	return handleSend(c, req, h, true)
}
