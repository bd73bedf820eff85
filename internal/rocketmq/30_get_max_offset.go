package rocketmq

// GET_MAX_OFFSET (30): header topic, queueId; answers offset, the queue's
// next offset as consumers see it: the partition's high watermark
// (committed records only).

func init() { register(codeGetMaxOffset, handleGetMaxOffset) }

func handleGetMaxOffset(c *Conn, req *Command) *Command {
	part, errResp := queuePartition(c, req)
	if errResp != nil {
		return errResp
	}
	return offsetResponse(req, part.HighWatermark())
}
