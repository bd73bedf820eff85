package rocketmq

import "strconv"

// SEARCH_OFFSET_BY_TIMESTAMP (29): header topic, queueId, timestamp (Unix
// ms); answers offset, the first record stored at or after timestamp
// (record timestamps are born timestamps, or Kafka producers' own), or
// the high watermark when there is none — what a consumer starting from a
// timestamp needs.

func init() { register(codeSearchOffsetByTimestamp, handleSearchOffsetByTimestamp) }

func handleSearchOffsetByTimestamp(c *Conn, req *Command) *Command {
	ts, err := strconv.ParseInt(req.Field("timestamp"), 10, 64)
	if err != nil {
		return errorResponse(req, ResInvalidParameter, "timestamp "+strconv.Quote(req.Field("timestamp"))+" is not a number")
	}
	part, errResp := queuePartition(c, req)
	if errResp != nil {
		return errResp
	}
	hw := part.HighWatermark()
	offset, _, found := part.Log().OffsetForTime(ts)
	if !found || offset > hw {
		offset = hw
	}
	return offsetResponse(req, offset)
}
