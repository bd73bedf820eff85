package rocketmq

// GET_MIN_OFFSET (31): header topic, queueId; answers offset, the
// partition's log start offset (retention moves it).

func init() { register(codeGetMinOffset, handleGetMinOffset) }

func handleGetMinOffset(c *Conn, req *Command) *Command {
	part, errResp := queuePartition(c, req)
	if errResp != nil {
		return errResp
	}
	return offsetResponse(req, part.Log().StartOffset())
}
