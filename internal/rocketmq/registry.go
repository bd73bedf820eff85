package rocketmq

import "fmt"

// Handler answers one request on c. It runs on the connection's read
// goroutine, so requests of a connection are handled in the order they
// came (a connection's appends keep their order). It returns the response
// (ignored for oneway requests), or nil when it has none or when it
// handed the request to c.Later.
type Handler func(c *Conn, req *Command) *Command

var handlers = map[int16]Handler{}

// register serves request code with h; each request code's file calls it
// from init.
func register(code int16, h Handler) {
	if _, dup := handlers[code]; dup {
		panic(fmt.Sprintf("rocketmq: request code %d registered twice", code))
	}
	handlers[code] = h
}

// brokerVersion is the version Ferry answers with: RocketMQ 5.3.0's
// MQVersion ordinal, so clients use the protocol of a current broker.
const brokerVersion = 473

// Response makes the success response to req (same opaque, response flag
// and serialize type); handlers fill its fields and body.
func Response(req *Command) *Command {
	return &Command{
		Code: ResSuccess, Language: languageGo, Version: brokerVersion,
		Opaque: req.Opaque, Flag: flagResponse, Serialize: req.Serialize,
	}
}

// errorResponse makes a response to req with an error code and a remark
// that says what was wrong.
func errorResponse(req *Command, code int16, remark string) *Command {
	resp := Response(req)
	resp.Code, resp.Remark = code, remark
	return resp
}

// ErrorResponse is errorResponse for other packages' handlers.
func ErrorResponse(req *Command, code int16, remark string) *Command {
	return errorResponse(req, code, remark)
}
